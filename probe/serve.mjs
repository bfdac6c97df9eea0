// Serves one page on 127.0.0.1 (a real origin, so localStorage,
// BroadcastChannel and Web Locks behave as they do for a site), on a free port.

import http from "node:http";

// `server.requests` records each request's path and arrival (`Date.now()`).
export function serve(page) {
  const server = http.createServer((req, res) => {
    server.requests.push({ path: req.url, at: Date.now() });
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page);
  });
  server.requests = [];
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
