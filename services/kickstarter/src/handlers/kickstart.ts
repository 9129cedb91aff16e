// kickstarter_queue → a kickstart on image_queue, or a user error on error_queue naming the line or item.
import { JobUrls, jobKeys } from '@img/shared/layout';
import { errorMessage, imageMessage, resultMessage, type KickstarterMessage } from '@img/shared/contracts';
import { routes, type Broker } from '@img/shared/broker';
import { formatTemplateIssues, generateKickstart, loadTemplate, type KickstartLimits, type TemplateIssue } from '@img/shared/kickstart';
import type { Logger } from '@img/shared/logging';

export interface KickstartDeps {
  broker: Pick<Broker, 'publish'>;
  log: Logger;
  publicUrl: string;
  /** The operator's caps (IMG_MAX_DISK_MB); absent: the kickstart library's defaults. */
  limits?: KickstartLimits;
  /** Counts each job: 'ok', or the error code it was refused with. */
  counted?: (result: 'ok' | 'invalid_template') => void;
}

export function kickstartHandler(deps: KickstartDeps) {
  return async (msg: KickstarterMessage): Promise<void> => {
    const log = deps.log.child({ jobId: msg.id, platform: msg.platform });
    await deps.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: jobKeys(msg.id).log, phase: 'kickstarting' });
    const file = 'template';
    const fail = async (issues: TemplateIssue[]) => {
      const lines = formatTemplateIssues(file, issues);
      const first = issues[0];
      log.info({ errors: lines.length }, 'template rejected');
      deps.counted?.('invalid_template');
      await deps.broker.publish(routes.error, errorMessage, {
        id: msg.id, email: msg.email, imagetype: msg.imagetype, code: 'invalid_template', phase: 'kickstarting',
        error: lines[0] ?? 'the template could not be read', excerpt: lines.slice(0, 50), url: new JobUrls(deps.publicUrl).log(msg.id),
        ...(first ? { position: { file: first.source === 'overlay' ? 'overlay' : file, ...(first.line ? { line: first.line } : {}), ...(first.text ? { item: first.text } : {}) } } : {}),
      });
    };
    const loaded = loadTemplate(msg.config, { file });
    if (!loaded.template) {
      await fail(loaded.errors);
      return;
    }
    const gen = generateKickstart(loaded.template, msg.platform, msg.overlay, { ...(deps.limits ? { limits: deps.limits } : {}), ...(msg.suite ? { suite: msg.suite } : {}) });
    if (!gen.kickstart || gen.errors.length > 0) {
      await fail(gen.errors);
      return;
    }
    for (const w of [...loaded.warnings, ...gen.warnings]) log.info({ warning: formatTemplateIssues(file, [w])[0] }, 'template warning');
    // The generated kickstart names its suite in its repo lines; the message says it as well, and the
    // platform's architecture, which no kickstart line says. The frontend's seal of the job goes on
    // with it (image-creator builds nothing without it).
    await deps.broker.publish(routes.build, imageMessage, {
      id: msg.id, email: msg.email, imagetype: msg.imagetype, ksfile: gen.kickstart, ...(gen.suite ? { suite: gen.suite } : {}),
      ...(gen.arch ? { arch: gen.arch } : {}),
      ...(msg.seal ? { seal: msg.seal } : {}), ...(msg.submitted_at ? { submitted_at: msg.submitted_at } : {}),
      ...(msg.rebuild ? { rebuild: true } : {}),
    });
    log.info('kickstart generated');
    deps.counted?.('ok');
  };
}
