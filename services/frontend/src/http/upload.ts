// Reads a submission from a multipart form or a JSON body into the fields the checks expect.
// Multipart is kept in memory within the upload limit (a kickstart is small); past the limit the
// parse stops and the rest of the body is thrown away unread.
import type { Request, Response } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { rebuildAsked, type FieldError, type SubmissionInput } from '../submission.ts';
import { closeAfterAnswer } from './respond.ts';
import { clientKey } from '../jobs/fair-share.ts';

export type Parsed = { ok: true; input: SubmissionInput; values: Record<string, string> } | { ok: false; errors: FieldError[]; status: number };

const text = (max: number) => z.string().max(max).optional();

export function submissionParser(maxUploadBytes: number) {
  // Two files at the limit and the form's other fields.
  const bodyLimit = maxUploadBytes * 2 + 64 * 1024;
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxUploadBytes, fieldSize: maxUploadBytes, files: 2, fields: 14, parts: 18, headerPairs: 100 },
  }).fields([{ name: 'ksfile', maxCount: 1 }, { name: 'template', maxCount: 1 }]);

  const jsonBody = z.object({
    email: text(254), imagetype: text(40), platform: text(100), overlay: text(64 * 1024), suite: text(40), arch: text(40),
    kickstart: text(maxUploadBytes), config: text(maxUploadBytes),
    // Longer than a callback may be, so the check can say how long it is allowed to be.
    callback_url: text(64 * 1024),
    // A boolean; the form's checkbox sends a string, and so may a JSON client.
    rebuild: z.union([z.boolean(), text(10)]).optional(),
  }).strict();

  function fromFields(body: Record<string, unknown>, files: Record<string, Express.Multer.File[] | undefined>, client: string): Parsed {
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const rebuild = typeof body.rebuild === 'boolean' ? body.rebuild : str('rebuild');
    const ks = files.ksfile?.[0];
    const tpl = files.template?.[0];
    for (const [field, f] of [['ksfile', ks], ['template', tpl]] as const) {
      // The content decides, not the name or the declared type.
      if (f?.buffer.includes(0)) return { ok: false, status: 400, errors: [{ field, message: 'the upload is not a text file (it contains NUL bytes)' }] };
    }
    const pasted = str('kickstart');
    const input: SubmissionInput = {
      email: str('email'),
      imagetype: str('imagetype'),
      platform: str('platform'),
      overlay: str('overlay'),
      suite: str('suite'),
      arch: str('arch'),
      callback_url: str('callback_url'),
      ...(rebuild !== undefined ? { rebuild } : {}),
      kickstart: ks ? { text: ks.buffer.toString('utf8'), filename: ks.originalname } : pasted ? { text: pasted } : undefined,
      template: tpl ? { text: tpl.buffer.toString('utf8'), filename: tpl.originalname } : str('config') ? { text: str('config')! } : undefined,
      client,
    };
    // An uploaded kickstart comes back in the text box: a browser cannot fill a file input again.
    const values = {
      email: input.email ?? '', imagetype: input.imagetype ?? '', platform: input.platform ?? '', overlay: input.overlay ?? '', suite: input.suite ?? '', arch: input.arch ?? '',
      callback_url: input.callback_url ?? '', kickstart: pasted ?? input.kickstart?.text ?? '',
      rebuild: rebuildAsked(input.rebuild) === true ? 'true' : '',
    };
    return { ok: true, input, values };
  }

  /** Multipart or JSON, by the request's content type. */
  return function parse(req: Request, res: Response): Promise<Parsed> {
    if (req.is('application/json')) {
      const body = jsonBody.safeParse(req.body ?? {});
      if (!body.success) {
        return Promise.resolve({ ok: false, status: 400, errors: body.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })) });
      }
      return Promise.resolve(fromFields(body.data, {}, clientKey(req.ip)));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (p: Parsed) => {
        if (!settled) resolve(p);
        settled = true;
      };
      const tooLarge = (field: string): Parsed => ({ ok: false, status: 413, errors: [{ field, message: `the upload is larger than the limit of ${maxUploadBytes} bytes` }] });
      upload(req, res, (err: unknown) => {
        if (settled) return;
        if (err instanceof multer.MulterError) {
          const field = err.field ?? 'upload';
          const message = err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE'
            ? `the upload is larger than the limit of ${maxUploadBytes} bytes`
            : `the upload was refused: ${err.message}`;
          const status = err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE' ? 413 : 400;
          // The client is still sending: drain a moment so it reads the answer rather than a reset.
          if (status === 413) closeAfterAnswer(req, res);
          settle({ ok: false, status, errors: [{ field, message }] });
          return;
        }
        if (err && (err as { status?: number }).status === undefined && /form|boundary|multipart/i.test((err as Error).message)) {
          settle({ ok: false, status: 400, errors: [{ field: 'upload', message: `the body is not a valid multipart form: ${(err as Error).message}` }] });
          return;
        }
        if (err) {
          settled = true;
          reject(err);
          return;
        }
        settle(fromFields((req.body ?? {}) as Record<string, unknown>, (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>, clientKey(req.ip)));
      });
      // multer reads an oversized body to its end before it answers; counted here, the answer
      // goes out at the limit and the connection closes behind it.
      let bytes = 0;
      const count = (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= bodyLimit || settled) return;
        req.off('data', count);
        closeAfterAnswer(req, res);
        settle(tooLarge('upload'));
      };
      if (req.readable) req.on('data', count);
    });
  };
}

export type SubmissionParser = ReturnType<typeof submissionParser>;
