// The platform probe: drives real tabs of one origin in headless Chromium and
// measures the behaviours rtsim's browser model (SPEC B1-B4) assumes, then
// writes them as a platform profile (JSON) under ../profiles/.
//
// Clocks: every latency is measured on one clock, `performance.timeOrigin +
// performance.now()` read inside the pages (a shared, high-resolution epoch
// clock on one machine), except lock release after close, whose start is the
// driver's `Date.now()` just before it closes the page (millisecond grain).

import fs from "node:fs";
import os from "node:os";
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
const TRIALS = Number(args.trials ?? 200);
const CHROMIUM = args.chromium ?? process.env.CHROMIUM ?? "/usr/bin/chromium";
const OUT = args.out ?? path.join(here, "..", "profiles", "chromium.json");

// One page, served on 127.0.0.1 so localStorage, BroadcastChannel and Web
// Locks behave as they do for a real origin.
const PAGE = `<!doctype html><meta charset="utf-8"><title>probe</title><script>
const now = () => performance.timeOrigin + performance.now();
window.seen = { storage: [], channel: [] };
addEventListener("storage", (e) => {
  if (e.key === "probe") window.seen.storage.push({ at: now(), value: e.newValue });
});
const bc = new BroadcastChannel("probe");
bc.onmessage = (e) => window.seen.channel.push({ at: now(), data: e.data });
window.probe = { now, bc };
</script>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank quantiles of `xs` (ms), as the profile records a distribution. */
function distribution(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const q = (p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: v.length, min_ms: r(v[0]), p50_ms: r(q(50)), p90_ms: r(q(90)), p99_ms: r(q(99)), max_ms: r(v[v.length - 1]) };
}

async function openTabs(browser, url, n) {
  const pages = [];
  for (let i = 0; i < n; i++) {
    const p = await browser.newPage();
    await p.goto(url);
    pages.push(p);
  }
  return pages;
}

/** Each of TRIALS messages `send(i)` from one tab, and when `arrival(i)` (the
 * page time it arrived, or null) sees it in the other: the delays in ms. */
async function oneWay(sender, reader, send, arrival) {
  const delays = [];
  for (let i = 0; i < TRIALS; i++) {
    const sent = await sender.evaluate(send, i);
    const got = await reader.waitForFunction(arrival, {}, i);
    delays.push((await got.jsonValue()) - sent);
  }
  return delays;
}

/** B1: how long after another tab's write its storage event arrives. */
async function storageEvents([writer, reader]) {
  const send = (i) => {
    const at = window.probe.now();
    localStorage.setItem("probe", `${i}:${at}`);
    return at;
  };
  const arrival = (i) => window.seen.storage.find((s) => s.value.startsWith(`${i}:`))?.at ?? null;
  return distribution(await oneWay(writer, reader, send, arrival));
}

/** B2: BroadcastChannel delivery delay, and whether it ever reaches its sender. */
async function channelDelay([sender, reader]) {
  const send = (i) => {
    const at = window.probe.now();
    window.probe.bc.postMessage({ i, at });
    return at;
  };
  const arrival = (i) => window.seen.channel.find((m) => m.data.i === i)?.at ?? null;
  const delays = await oneWay(sender, reader, send, arrival);
  const toSelf = await sender.evaluate(() => window.seen.channel.length);
  return { ...distribution(delays), delivered_to_sender: toSelf };
}

/** B1: read-check-write on one key by every tab at once (the driver sends
 * each tab its check in the same instant); how often two tabs both win. */
async function readCheckWrite(pages) {
  let doubles = 0;
  let none = 0;
  for (let i = 0; i < TRIALS; i++) {
    // A key no earlier run touched: a run with more tabs must not find it set.
    const key = `rcw${pages.length}-${i}`;
    const claims = await Promise.all(
      pages.map((p, who) =>
        p.evaluate(
          (key, who) => {
            if (localStorage.getItem(key) === null) {
              localStorage.setItem(key, String(who));
              return true;
            }
            return false;
          },
          key,
          who,
        ),
      ),
    );
    const winners = claims.filter(Boolean).length;
    if (winners > 1) doubles++;
    if (winners === 0) none++;
  }
  return { tabs: pages.length, trials: TRIALS, double_winners: doubles, no_winner: none };
}

/** B3: how long a Web Lock held by a page stays held after the page goes:
 * `end(page)` closes it, or crashes its renderer. */
async function lockRelease(browser, url, end) {
  const trials = Math.min(TRIALS, 30);
  const delays = [];
  for (let i = 0; i < trials; i++) {
    const [holder, waiter] = await openTabs(browser, url, 2);
    const name = `lock${i}`;
    await holder.evaluate((name) => {
      navigator.locks.request(name, () => new Promise(() => {}));
    }, name);
    await sleep(20);
    await waiter.evaluate((name) => {
      window.granted = null;
      navigator.locks.request(name, () => {
        window.granted = window.probe.now();
      });
    }, name);
    const endedAt = Date.now();
    await end(holder);
    await waiter.waitForFunction(() => window.granted !== null, { timeout: 15000 });
    const granted = await waiter.evaluate(() => window.granted);
    delays.push(granted - endedAt);
    await waiter.close();
    if (!holder.isClosed()) await holder.close();
  }
  return distribution(delays);
}

/** Crash a page's renderer through the DevTools protocol (the call never answers). */
async function crash(page) {
  const cdp = await page.createCDPSession();
  cdp.send("Page.crash").catch(() => {});
}

/** B4: what a frozen tab runs. The tab ticks a 100 ms timer; it is frozen
 * through the DevTools protocol (Page.setWebLifecycleState) for 2 s, during
 * which another tab writes storage and posts channel messages; then resumed. */
async function frozenTab(browser, url, server) {
  const [frozen, other] = await openTabs(browser, url, 2);
  await frozen.bringToFront();
  await frozen.evaluate(() => {
    window.ticks = [];
    setInterval(() => window.ticks.push(window.probe.now()), 100);
    // Whether freezing a visible page hides it: the events, and what the
    // handler reads while frozen.
    window.visibility = { changes: [], read_while_frozen: [] };
    addEventListener("visibilitychange", () =>
      window.visibility.changes.push({ at: window.probe.now(), state: document.visibilityState }),
    );
    // What a handler run while frozen can do: write storage, post, fetch.
    const ask = new BroadcastChannel("ask");
    ask.onmessage = (e) => {
      window.visibility.read_while_frozen.push(document.visibilityState);
      localStorage.setItem("probe-reply", `${e.data}:${window.probe.now()}`);
      ask.postMessage(`reply${e.data}`);
      fetch(`/?frozen-fetch=${e.data}`);
    };
  });
  const visibleBefore = await frozen.evaluate(() => document.visibilityState);
  await other.evaluate(() => {
    window.replies = { storage: [], channel: [] };
    addEventListener("storage", (e) => {
      if (e.key === "probe-reply") window.replies.storage.push(window.probe.now());
    });
    const ask = new BroadcastChannel("ask");
    ask.onmessage = () => window.replies.channel.push(window.probe.now());
    window.ask = ask;
  });
  await sleep(500);
  const cdp = await frozen.createCDPSession();
  const from = await frozen.evaluate(() => window.probe.now());
  await cdp.send("Page.setWebLifecycleState", { state: "frozen" });
  await sleep(500);
  const sent = 5;
  for (let i = 0; i < sent; i++) {
    await other.evaluate((i) => {
      localStorage.setItem("probe", `frozen${i}:${window.probe.now()}`);
      window.probe.bc.postMessage({ i: `frozen${i}` });
      window.ask.postMessage(i);
    }, i);
    await sleep(200);
  }
  await sleep(500);
  const resumedBy = (await other.evaluate(() => window.probe.now()));
  await cdp.send("Page.setWebLifecycleState", { state: "active" });
  await sleep(500);
  const seen = await frozen.evaluate(() => ({
    visibility: window.visibility,
    visibleAfter: document.visibilityState,
    ticks: window.ticks,
    storage: window.seen.storage.filter((s) => s.value.startsWith("frozen")).map((s) => s.at),
    channel: window.seen.channel.filter((m) => String(m.data.i).startsWith("frozen")).map((m) => m.at),
  }));
  const replies = await other.evaluate(() => window.replies);
  // The server's clock is Date.now(), the pages' timeOrigin + now(): one epoch clock.
  const fetches = server.requests.filter((r) => r.path.includes("frozen-fetch")).map((r) => r.at);
  const during = (xs) => xs.filter((t) => t > from && t < resumedBy).length;
  const afterResume = seen.ticks.filter((t) => t >= resumedBy);
  const firstAfter = afterResume.length ? afterResume[0] : null;
  const burst = firstAfter === null ? 0 : afterResume.filter((t) => t < firstAfter + 50).length;
  await frozen.close();
  await other.close();
  return {
    frozen_ms: Math.round(resumedBy - from),
    timer_ticks_while_frozen: during(seen.ticks),
    timer_ticks_within_50ms_of_first_after_resume: burst,
    storage_events_sent: sent,
    storage_events_run_while_frozen: during(seen.storage),
    storage_events_run_after_resume: seen.storage.filter((t) => t >= resumedBy).length,
    channel_messages_sent: sent,
    channel_messages_run_while_frozen: during(seen.channel),
    channel_messages_run_after_resume: seen.channel.filter((t) => t >= resumedBy).length,
    // Each message's handler, run while frozen, wrote storage, posted and fetched:
    handler_storage_writes_seen_while_frozen: during(replies.storage),
    handler_posts_delivered_while_frozen: during(replies.channel),
    handler_fetches_sent_while_frozen: during(fetches),
    handler_fetches_sent_after_resume: fetches.filter((t) => t >= resumedBy).length,
    // Freezing a page in front (brought to front first): what it reads of its visibility.
    visibility_before_freeze: visibleBefore,
    visibility_read_by_handler_while_frozen: [...new Set(seen.visibility.read_while_frozen)],
    visibilitychange_events_while_frozen: during(seen.visibility.changes.map((c) => c.at)),
    visibilitychange_events_after_resume: seen.visibility.changes.filter((c) => c.at >= resumedBy).length,
    visibility_after_resume: seen.visibleAfter,
  };
}

/** B2: a burst of `count` channel messages from one tab: the delay of each
 * to the other, so queueing shows in the upper quantiles. */
async function channelBurst([sender, reader], count) {
  await reader.evaluate(() => (window.seen.channel = []));
  await sender.evaluate((count) => {
    for (let i = 0; i < count; i++) window.probe.bc.postMessage({ burst: i, at: window.probe.now() });
  }, count);
  await reader.waitForFunction((count) => window.seen.channel.length >= count, { timeout: 60000 }, count);
  const delays = await reader.evaluate(() => window.seen.channel.map((m) => m.at - m.data.at));
  return { messages: count, ...distribution(delays) };
}

/** B4: what reaches a tab whose main thread is busy for `busyMs`: 20 ms into
 * its task another tab writes storage, posts a message and releases a Web Lock
 * the busy tab waits for; when each ran in the busy tab, counted from the
 * write, beside when its task ended (the same page clock). */
async function busyTab([writer, busy], busyMs) {
  await writer.evaluate(() => {
    window.release = null;
    navigator.locks.request("busy", () => new Promise((r) => (window.release = r)));
  });
  await writer.waitForFunction(() => window.release !== null);
  await busy.evaluate(() => {
    window.seen.storage = [];
    window.seen.channel = [];
    window.granted = null;
    navigator.locks.request("busy", () => {
      window.granted = window.probe.now();
    });
  });
  // The busy task starts first; the write, message and release land while it runs.
  const spin = busy.evaluate((busyMs) => {
    const start = window.probe.now();
    while (window.probe.now() < start + busyMs) {}
    return window.probe.now();
  }, busyMs);
  await sleep(20);
  const wrote = await writer.evaluate(() => {
    const at = window.probe.now();
    localStorage.setItem("probe", `busy:${at}`);
    window.probe.bc.postMessage({ busy: true });
    window.release();
    return at;
  });
  const ended = await spin;
  await busy.waitForFunction(
    () => window.seen.storage.length > 0 && window.seen.channel.length > 0 && window.granted !== null,
  );
  const at = await busy.evaluate(() => [window.seen.storage[0].at, window.seen.channel[0].at, window.granted]);
  const r = (x) => Math.round(x * 10) / 10;
  return {
    busy_ms: busyMs,
    task_ended_after_ms: r(ended - wrote),
    storage_event_after_ms: r(at[0] - wrote),
    channel_message_after_ms: r(at[1] - wrote),
    lock_granted_after_ms: r(at[2] - wrote),
  };
}

/** B4: a background (hidden) tab's 100 ms interval timer over `seconds`: the
 * gaps between its ticks, and how far apart their phases within a second lie
 * (near 0 when the ticks are aligned to a one-second grid). */
async function hiddenTimers(browser, url, seconds) {
  const [hidden] = await openTabs(browser, url, 1);
  await hidden.evaluate(() => {
    window.ticks = [];
    setInterval(() => window.ticks.push(window.probe.now()), 100);
  });
  const front = await browser.newPage(); // the newest page is the visible one
  await front.goto(url);
  const state = await hidden.evaluate(() => document.visibilityState);
  await sleep(seconds * 1000);
  const ticks = await hidden.evaluate((from) => window.ticks.filter((t) => t >= from), 0);
  await hidden.close();
  await front.close();
  // The first second after hiding is still the visible cadence running out.
  const settled = ticks.filter((t) => t >= ticks[0] + 1500);
  const gaps = settled.slice(1).map((t, i) => t - settled[i]);
  const phases = settled.map((t) => t % 1000);
  const spread = phases.length ? Math.max(...phases) - Math.min(...phases) : null;
  return {
    visibility: state,
    seconds,
    interval_requested_ms: 100,
    gap: distribution(gaps),
    phase_spread_ms: spread === null ? null : Math.round(spread * 10) / 10,
  };
}

/** B4: intensive throttling. A hidden tab runs a chain of 100 ms timeouts
 * (each scheduling the next, so the chain's nesting level passes 5, which is
 * what Chromium throttles) for `seconds`; the first gap of 50 s or more says
 * from how long hidden the tab's timers ran once a minute, and the gaps after
 * it the period. Only with `--intensive=SECONDS` (minutes: not in the default run). */
async function intensiveThrottling(browser, url, seconds) {
  const [hidden] = await openTabs(browser, url, 1);
  const front = await browser.newPage(); // the newest page is the visible one
  await front.goto(url);
  await hidden.evaluate(() => {
    window.hiddenAt = window.probe.now();
    window.ticks = [];
    const tick = () => {
      window.ticks.push(window.probe.now());
      setTimeout(tick, 100);
    };
    setTimeout(tick, 100);
  });
  await sleep(seconds * 1000);
  const { hiddenAt, ticks } = await hidden.evaluate(() => ({ hiddenAt: window.hiddenAt, ticks: window.ticks }));
  await hidden.close();
  await front.close();
  const gaps = ticks.slice(1).map((t, i) => ({ at: ticks[i] - hiddenAt, gap: ticks[i + 1] - ticks[i] }));
  const first = gaps.find((g) => g.gap >= 50000);
  const after = first ? gaps.filter((g) => g.at >= first.at).map((g) => g.gap) : [];
  return {
    seconds,
    interval_requested_ms: 100,
    ticks: ticks.length,
    minute_gaps_from_hidden_ms: first ? Math.round(first.at) : null,
    gap_after: after.length ? distribution(after) : null,
  };
}

/** B3: a tab holding a Web Lock navigates to another page of the origin:
 * is the lock released (the page unloaded), or kept while the page sits in
 * the back-forward cache? The waiter waits up to 10 s; then the holder goes
 * back, and `pageshow`'s `persisted` says whether it came from the cache. */
async function lockInBfcache(browser, url) {
  const [holder, waiter] = await openTabs(browser, url, 2);
  await holder.evaluate(() => {
    // Registered now: a page restored from the cache runs no new scripts.
    window.restored = false;
    addEventListener("pageshow", (e) => (window.restored = e.persisted));
    navigator.locks.request("bf", () => new Promise(() => {}));
  });
  await sleep(50);
  await waiter.evaluate(() => {
    window.granted = null;
    navigator.locks.request("bf", () => {
      window.granted = window.probe.now();
    });
  });
  const left = Date.now();
  await holder.goto(`${url}?away`);
  let released_after_ms = null;
  try {
    await waiter.waitForFunction(() => window.granted !== null, { timeout: 10000 });
    released_after_ms = Math.round(((await waiter.evaluate(() => window.granted)) - left) * 10) / 10;
  } catch {
    // Not released within 10 s.
  }
  await holder.goBack();
  const restored = await holder.evaluate(() => window.restored ?? false);
  await holder.close();
  await waiter.close();
  return { waited_ms: 10000, released_after_ms, restored_from_bfcache: restored };
}

async function main() {
  const server = await serve(PAGE);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
    // Puppeteer turns background throttling off by default; a user's browser has it on.
    ignoreDefaultArgs: [
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
  try {
    const version = await browser.version();
    if (args.only) {
      // Re-measure one stage that opens its own tabs, printed for merging
      // into a profile by hand (its `measured_separately` says so).
      const stages = {
        frozen_tab: () => frozenTab(browser, url, server),
        hidden_tab_timers: () => hiddenTimers(browser, url, 12),
        lock_after_navigate_away: () => lockInBfcache(browser, url),
      };
      const stage = stages[args.only];
      if (!stage) throw new Error(`--only: no stage ${args.only} (one of ${Object.keys(stages).join(", ")})`);
      const result = await stage();
      console.log(JSON.stringify({ browser: version, [args.only]: result }, null, 2));
      return;
    }
    const two = await openTabs(browser, url, 2);
    const storage = await storageEvents(two);
    const channel = await channelDelay(two);
    const rcw2 = await readCheckWrite(two);
    const burst = await channelBurst(two, 10000);
    const busy = await busyTab(two, 300);
    const four = [...two, ...(await openTabs(browser, url, 2))];
    const rcw4 = await readCheckWrite(four);
    for (const p of four) await p.close();
    const lockClose = await lockRelease(browser, url, (p) => p.close());
    const lockCrash = await lockRelease(browser, url, crash);
    const frozen = await frozenTab(browser, url, server);
    const hidden = await hiddenTimers(browser, url, 12);
    const bfcache = await lockInBfcache(browser, url);
    const intensive = args.intensive ? await intensiveThrottling(browser, url, Number(args.intensive)) : null;
    const profile = {
      profile: "chromium",
      browser: version,
      measured_on: new Date().toISOString().slice(0, 10),
      machine: { cores: os.cpus().length, load_1m: Math.round(os.loadavg()[0] * 100) / 100 },
      trials: TRIALS,
      storage_event_delay: storage,
      broadcast_channel_delay: channel,
      broadcast_channel_burst: burst,
      busy_tab: busy,
      read_check_write_race: [rcw2, rcw4],
      lock_release_after_close: lockClose,
      lock_release_after_crash: lockCrash,
      frozen_tab: frozen,
      hidden_tab_timers: hidden,
      lock_after_navigate_away: bfcache,
      ...(intensive ? { intensive_throttling: intensive } : {}),
      not_measured: [
        ...(intensive ? [] : ["intensive throttling of chained timers after minutes hidden (run with --intensive=420)"]),
      ],
    };
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, JSON.stringify(profile, null, 2) + "\n");
    console.log(`probe: wrote ${OUT} (${version}, ${TRIALS} trials)`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(`probe: ${e.stack ?? e}`);
  process.exit(1);
});
