// IMG's form: GET shows it, POST checks the submission and queues it, or shows the form again
// with every error next to its field and the person's input kept.
import { Router, type Request, type Response } from 'express';
import { ARCHITECTURES, DEFAULT_ARCH, SUITES } from '@img/shared/kickstart';
import { checkCallback, checkSubmission, type FieldError, type FieldWarning } from '../submission.ts';
import { tokenQuery } from '../http/job-access.ts';
import { sendError } from '../http/respond.ts';
import type { RouteDeps } from './deps.ts';

export function submitRoutes(deps: RouteDeps): Router {
  const r = Router();
  const form = (res: Response, values: Record<string, string>, errors: FieldError[], warnings: FieldWarning[] = []) =>
    res.render('submit', {
      title: 'Submit a build', platforms: deps.platforms, suites: SUITES, defaultSuite: deps.config.IMG_DEFAULT_SUITE,
      architectures: ARCHITECTURES, defaultArch: DEFAULT_ARCH, values, errors, warnings, scripts: ['/static/ks-check.js'],
    });

  r.get('/submit', deps.csrf.issue, (_req, res) => {
    form(res, {}, []);
  });

  r.post('/submit', ...deps.submitGuards, deps.csrf.issue, async (req: Request, res: Response) => {
    const parsed = await deps.parseSubmission(req, res);
    // Checked after the parse: the token is a field of the multipart body.
    if (!deps.csrf.valid(req) && !(!parsed.ok && parsed.status === 413)) {
      sendError(req, res, 403, 'csrf', 'the form has expired or did not come from this site; open the form again and resubmit');
      return;
    }
    if (!parsed.ok) {
      res.status(parsed.status);
      form(res, {}, parsed.errors);
      return;
    }
    const checked = await checkSubmission(parsed.input, {
      templateText: deps.defaultTemplateText, limits: { maxRootSizeMib: deps.config.IMG_MAX_DISK_MB }, suite: deps.config.IMG_DEFAULT_SUITE, kickstarts: deps.kickstarts,
    });
    const errors = [...(checked.ok ? [] : checked.errors), ...(await checkCallback(parsed.input, deps.callbacks))];
    if (!checked.ok || errors.length > 0) {
      res.status(400);
      form(res, parsed.values, errors, checked.warnings);
      return;
    }
    const queued = await deps.actions.queue(checked.job);
    if (!queued.ok) {
      sendError(req, res, queued.status, queued.code, queued.message);
      return;
    }
    // The job page with the job's token: bookmarking it keeps the log, the download and the buttons.
    res.redirect(303, `/job/${queued.value.id}${tokenQuery(deps.access.tokenOf(queued.value))}`);
  });

  return r;
}
