// A finished job's provenance: its package manifest (JSON, in the API and beside the image), its
// SBOM, and the SHA256SUMS over the image, the manifest and the SBOM with its OpenPGP signature:
// the job owner's (its token) or the operator's, as the image is. The public key is anyone's.
import { Router, type Request, type Response } from 'express';
import type { Job } from '@img/shared/jobs';
import { MANIFEST_FILE, SBOM_FILE, SUMS_FILE, SUMS_SIGNATURE_FILE } from '@img/shared/provenance';
import { sendError } from '../http/respond.ts';
import { jobProvenance, type JobProvenance } from '../provenance/job-provenance.ts';
import type { RouteDeps } from './deps.ts';

export function provenanceRoutes(deps: RouteDeps): Router {
  const r = Router();
  const owner = deps.access.require(deps.store);
  const { signing } = deps;

  r.get('/signing-key.asc', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/pgp-keys').send(signing.publicArmored);
  });

  /** Answers with the job's provenance, or a 404 that says why it has none. */
  const withProvenance = (send: (p: JobProvenance, req: Request, res: Response) => Promise<void> | void) => async (req: Request, res: Response) => {
    const got = await jobProvenance(deps.storage, deps.config.IMG_PUBLIC_URL, res.locals.job as Job);
    if (!got.ok) {
      sendError(req, res, 404, 'not_found', got.why);
      return;
    }
    res.setHeader('Cache-Control', 'private, no-store');
    await send(got.value, req, res);
  };
  const manifest = withProvenance((p, _req, res) => {
    res.type('application/json').send(p.manifestText);
  });

  r.get('/api/v1/jobs/:id/manifest', owner, manifest);
  r.get(`/images/:id/${MANIFEST_FILE}`, owner, manifest);
  r.get(`/images/:id/${SBOM_FILE}`, owner, withProvenance((p, _req, res) => {
    res.type('application/spdx+json').send(p.sbom);
  }));
  r.get(`/images/:id/${SUMS_FILE}`, owner, withProvenance((p, _req, res) => {
    res.type('text/plain; charset=utf-8').send(p.sums);
  }));
  r.get(`/images/:id/${SUMS_SIGNATURE_FILE}`, owner, withProvenance(async (p, _req, res) => {
    res.type('application/pgp-signature').send(await signing.sign(p.sums));
  }));
  return r;
}
