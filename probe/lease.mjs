// Records leader-election histories from real tabs, for `rtsim check`.
//
// Each tab of one origin runs a small JavaScript implementation of the
// localStorage lease election of seeds 001/002 (SPEC L2-L4, the same
// protocol rtsim's `client::leader` models): a tab that finds the lease free
// or expired writes its claim, re-reads it 100 ms later and leads if it
// survived; the leader renews the lease and heartbeats on a BroadcastChannel
// every `heartbeat` ms; a follower that hears nothing for `takeover` ms (plus
// jitter) claims; a leader that sees a higher (sequence, tab) yields; a tab
// that closes gives the lease up. The driver freezes, crashes and closes the
// leader through the DevTools protocol and opens a new tab, and writes what
// happened as a recorded history (README "Checking a recorded history"):
// every role change the tabs announce, every lifecycle change.
//
// Two variants run side by side, in two browsers: heartbeat 10 s with a 3 s
// takeover (one seed's takeover with the other's heartbeat: followers take
// over between heartbeats, so leaders split) and with an 18 s takeover (the
// seeds' own pairing). Clocks: `performance.timeOrigin + performance.now()`
// in the pages and in the driver, one epoch clock on one machine.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { serve } from "./serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"];
  }),
);
const CHROMIUM = args.chromium ?? process.env.CHROMIUM ?? "/usr/bin/chromium";
const OUT = args.out ?? path.join(here, "..", "histories");
// How long each phase lasts: longer than the 18 s takeover plus its jitter.
const PHASE_MS = Number(args.phase_ms ?? 25000);

const VARIANTS = [
  { name: "lease_takeover_3s_heartbeat_10s", heartbeat: 10000, takeover: 3000, jitter: 500 },
  { name: "lease_takeover_18s_heartbeat_10s", heartbeat: 10000, takeover: 18000, jitter: 2000 },
];
const RECHECK_MS = 100;
const SCOPE = "org0-browser0";

// The election, as each tab runs it. `record` is the driver's binding.
const PAGE = `<!doctype html><meta charset="utf-8"><title>lease</title><script>
const cfg = Object.fromEntries(new URLSearchParams(location.search));
const me = Number(cfg.tab), H = Number(cfg.heartbeat), T = Number(cfg.takeover), R = Number(cfg.recheck);
const takeoverAfter = T + Math.floor(Math.random() * (Number(cfg.jitter) + 1));
const KEY = "finance-leader:" + cfg.scope, bc = new BroadcastChannel("finance-events:" + cfg.scope);
const at = () => performance.timeOrigin + performance.now();
let role = null, seq = 0, highest = [0, 0], lastHeard = Date.now(), timer = null;
const higher = (a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
function setRole(r, cause) {
  if (r === role) return;
  role = r;
  window.record({ kind: "role", role: r, seq, cause, at: at() });
}
function schedule(when) {
  clearTimeout(timer);
  timer = setTimeout(onTimer, Math.max(0, when - Date.now()));
}
function readLease() {
  try { return JSON.parse(localStorage.getItem(KEY)); } catch { return null; }
}
function writeLease() {
  localStorage.setItem(KEY, JSON.stringify({ tab: me, seq, expires_at: Date.now() + T }));
}
function tryClaim() {
  const l = readLease(), now = Date.now();
  if (l && l.tab !== me && l.expires_at > now) {
    if (higher([l.seq, l.tab], highest)) highest = [l.seq, l.tab];
    setRole("follower", "lease held");
    lastHeard = now;
    schedule(Math.max(l.expires_at, now + takeoverAfter));
  } else {
    seq = Math.max(l ? l.seq : 0, highest[0]) + 1;
    writeLease();
    setRole("claiming", "lease free");
    schedule(now + R);
  }
}
const yieldsTo = (s, t) => t !== me && higher([s, t], [seq, me]);
function stepDown(cause) {
  setRole("follower", cause);
  lastHeard = Date.now();
  schedule(lastHeard + takeoverAfter);
}
function onTimer() {
  const now = Date.now();
  if (role === "claiming") {
    const l = readLease();
    if (l && l.tab === me && l.seq === seq) {
      setRole("leader", "lease confirmed");
      schedule(now + H);
    } else if (!l) {
      tryClaim(); // the winning claim was given up: the lease is free again
    } else {
      setRole("follower", "lost the lease race");
      lastHeard = now;
      schedule(now + takeoverAfter);
    }
  } else if (role === "leader") {
    const l = readLease();
    if (l && l.expires_at > now && yieldsTo(l.seq, l.tab)) {
      if (higher([l.seq, l.tab], highest)) highest = [l.seq, l.tab];
      return stepDown("a newer lease");
    }
    writeLease();
    bc.postMessage({ tab: me, seq });
    schedule(now + H);
  } else if (role === "follower") {
    if (now - lastHeard >= takeoverAfter) tryClaim();
    else schedule(lastHeard + takeoverAfter);
  }
}
bc.onmessage = ({ data }) => {
  if (data.tab === me) return;
  if (higher([data.seq, data.tab], highest)) highest = [data.seq, data.tab];
  if (role === "leader" && yieldsTo(data.seq, data.tab)) return stepDown("heard a higher sequence");
  if (role === "follower" || role === "claiming") {
    lastHeard = Date.now();
    if (role === "claiming" && higher([data.seq, data.tab], [seq, me])) setRole("follower", "heard a higher sequence");
    if (role === "follower") schedule(lastHeard + takeoverAfter);
  }
};
addEventListener("storage", (e) => {
  if (e.key === KEY && e.newValue === null && role === "follower") tryClaim();
});
addEventListener("pagehide", () => {
  const l = readLease();
  // A claim still being rechecked is given up too (rtsim found that one).
  if ((role === "leader" || role === "claiming") && l && l.tab === me) localStorage.removeItem(KEY);
  setRole("closed", "tab closed");
  clearTimeout(timer);
});
document.addEventListener("visibilitychange", () =>
  window.record({ kind: "lifecycle", what: document.hidden ? "hide" : "show", at: at() }));
lastHeard = Date.now();
tryClaim();
</script>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const at = () => performance.timeOrigin + performance.now();

/** One variant in its own browser: the script of faults, and what the tabs said. */
async function record(variant, port) {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "rtsim-lease-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: dir,
    args: ["--no-sandbox", "--disable-gpu"],
    // As in probe.mjs: a user's browser throttles background tabs.
    ignoreDefaultArgs: [
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
  const start = at();
  const lines = [];
  const note = (tab, line) => lines.push({ t: line.at - start, tab, ...line });
  const tabs = [];
  const role = new Map();
  async function open() {
    const index = tabs.length;
    const name = `org0/browser0/tab${index}`;
    const page = await browser.newPage();
    await page.exposeFunction("record", (line) => {
      if (line.kind === "role") role.set(index, line.role);
      note(name, line);
    });
    note(name, { kind: "lifecycle", what: "open", at: at() });
    const q = new URLSearchParams({ tab: index, scope: SCOPE, recheck: RECHECK_MS, ...variant });
    await page.goto(`http://127.0.0.1:${port}/?${q}`);
    tabs.push({ name, page, cdp: await page.createCDPSession() });
    return index;
  }
  const leader = () => [...role].find(([, r]) => r === "leader")?.[0];
  async function act(what, index, how) {
    const tab = tabs[index];
    // Noted before it happens: the tab counts as gone (or frozen, or back) from
    // this instant, a few ms early, never late.
    note(tab.name, { kind: "lifecycle", what, at: at() });
    await how(tab);
  }
  const script = [];
  for (let i = 0; i < 3; i++) await open();
  await sleep(PHASE_MS);
  const frozen = leader();
  if (frozen !== undefined) {
    await act("freeze", frozen, (t) => t.cdp.send("Page.setWebLifecycleState", { state: "frozen" }));
    script.push(`froze tab${frozen}`);
    await sleep(PHASE_MS);
    await act("thaw", frozen, (t) => t.cdp.send("Page.setWebLifecycleState", { state: "active" }));
    await sleep(PHASE_MS);
  }
  const crashed = leader();
  if (crashed !== undefined) {
    // Page.crash never answers (the renderer it would answer from is gone): not awaited.
    await act("crash", crashed, (t) => void t.cdp.send("Page.crash").catch(() => {}));
    role.delete(crashed);
    script.push(`crashed tab${crashed}`);
    await sleep(PHASE_MS);
  }
  await open();
  await sleep(3000);
  const closed = leader();
  if (closed !== undefined) {
    await act("close", closed, (t) => t.page.close({ runBeforeUnload: true }));
    script.push(`closed tab${closed}`);
    await sleep(PHASE_MS);
  }
  const end = at() - start;
  const version = await browser.version();
  await browser.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { lines, end, version, script };
}

function write(variant, { lines, end, version, script }) {
  const header = {
    kind: "recording",
    schema: 1,
    source: `probe/lease.mjs: ${version}, ${new Date().toISOString().slice(0, 10)}, ${script.join(", ")}`,
    // The page has no auth: it never signs out, so zero sign-outs is what it recorded.
    records: ["role", "lifecycle", "signed_out"],
    params: {
      scope: "browser-org",
      heartbeat_ms: variant.heartbeat,
      takeover_ms: variant.takeover,
      takeover_jitter_ms: variant.jitter,
      lease_recheck_ms: RECHECK_MS,
    },
    end: Math.round(end * 10) / 10,
  };
  const round = (x) => Math.round(x * 10) / 10;
  const body = lines
    .map((l, i) => ({ ...l, i }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ t, kind, tab, role, seq, cause, what }) =>
      kind === "role"
        ? { t: round(t), kind, tab, scope: SCOPE, role, seq, cause }
        : { t: round(t), kind, tab, what },
    );
  const file = path.join(OUT, `${variant.name}.jsonl`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(file, [header, ...body].map((l) => JSON.stringify(l)).join("\n") + "\n");
  console.log(`wrote ${file}: ${body.length} observations over ${(end / 1000).toFixed(1)} s (${script.join(", ")})`);
}

const server = await serve(PAGE);
const port = server.address().port;
const runs = await Promise.all(VARIANTS.map((v) => record(v, port)));
VARIANTS.forEach((v, i) => write(v, runs[i]));
server.close();
