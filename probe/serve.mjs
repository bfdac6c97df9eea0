// Serves one page on 127.0.0.1 (a real origin, so localStorage,
// BroadcastChannel and Web Locks behave as they do for a site), on a free port.

import http from "node:http";

export function serve(page) {
  const server = http.createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
