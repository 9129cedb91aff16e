// How errors are answered: JSON for API clients, a page for people. One shape everywhere:
// {error: {code, message, ...details}}.
import type { Request, Response } from 'express';

export function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json';
}

const titles: Record<number, string> = {
  400: 'Bad request', 401: 'Sign in needed', 403: 'Refused', 404: 'Not found', 409: 'Not now',
  413: 'Too large', 416: 'Range not satisfiable', 429: 'Too many requests', 500: 'Something went wrong', 503: 'Try again shortly',
};

export function sendError(req: Request, res: Response, status: number, code: string, message: string, details: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status);
  if (wantsJson(req)) res.json({ error: { code, message, ...details } });
  else res.render('error', { title: titles[status] ?? 'Error', message });
}

/**
 * For an answer given before the body was read (too large, refused): the rest of the body is read
 * and thrown away for a moment, so the client reads the answer and stops sending rather than
 * meeting a reset, then the socket is cut.
 */
export function closeAfterAnswer(req: Request, res: Response): void {
  // No `Connection: close`: with it Node closes the socket as soon as the answer is written, and a
  // client still sending gets a reset (EPIPE) before it has read the answer.
  // A body that has all arrived leaves the connection usable: cutting it then would meet the client's
  // next request on it (keep-alive) half-sent, as an EPIPE. Only a client still sending is cut.
  if (req.complete) return;
  req.resume();
  const cut = setTimeout(() => { if (!req.complete) req.socket.destroy(); }, 2000);
  cut.unref();
  req.once('end', () => clearTimeout(cut));
}

export function refuseBody(req: Request, res: Response, status: number, code: string, message: string): void {
  closeAfterAnswer(req, res);
  sendError(req, res, status, code, message);
}
