import { MailCatcher } from './mail-catcher.ts';

const catcher = new MailCatcher({
  dir: process.env.IMG_MAIL_DIR ?? '/var/lib/img/mail',
  smtpPort: Number(process.env.IMG_MAIL_SMTP_PORT ?? 1025),
  httpPort: Number(process.env.IMG_MAIL_HTTP_PORT ?? 8025),
});
await catcher.start();
process.stdout.write(`mail catcher: smtp 127.0.0.1:${process.env.IMG_MAIL_SMTP_PORT ?? 1025}, web http://127.0.0.1:${process.env.IMG_MAIL_HTTP_PORT ?? 8025}\n`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void catcher.stop().then(() => process.exit(0)));
