// Sending through SMTP with nodemailer, behind a small interface.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from './config.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
}

export interface Mailer {
  send(mail: Mail): Promise<{ messageId: string }>;
  close(): void;
}

/** A rejection the relay will repeat (5xx): retrying cannot help. */
export function isPermanentSmtpError(err: unknown): boolean {
  const code = (err as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export function smtpMailer(config: Config): Mailer {
  const transport: Transporter = nodemailer.createTransport({
    pool: true,
    maxConnections: 3,
    host: config.IMG_SMTP_HOST,
    port: config.IMG_SMTP_PORT,
    secure: config.IMG_SMTP_SECURE,
    requireTLS: config.IMG_SMTP_REQUIRE_TLS,
    ...(config.IMG_SMTP_USER ? { auth: { user: config.IMG_SMTP_USER, pass: config.IMG_SMTP_PASS ?? '' } } : {}),
    connectionTimeout: config.IMG_SMTP_TIMEOUT_MS,
    greetingTimeout: config.IMG_SMTP_TIMEOUT_MS,
    socketTimeout: config.IMG_SMTP_TIMEOUT_MS,
    // nodemailer turns line breaks in header values into folding, never into new headers; the
    // addresses and subjects are validated before they get here as well.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(mail) {
      const info = await transport.sendMail({
        from: config.IMG_MAIL_FROM,
        ...(config.IMG_MAIL_REPLY_TO ? { replyTo: config.IMG_MAIL_REPLY_TO } : {}),
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        ...(mail.headers ? { headers: mail.headers } : {}),
      });
      return { messageId: String(info.messageId) };
    },
    close() {
      transport.close();
    },
  };
}
