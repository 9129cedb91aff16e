// The OpenAPI document of /api/v1. A test compares its paths with the routes the API registers,
// both ways, so the two cannot drift apart.
import { imageTypes, phases } from '@img/shared/contracts';
import { jobStatuses } from '@img/shared/jobs';
import { ARCH_NAMES, DEFAULT_ARCH, DEFAULT_SUITE, offeredArchitectures, offeredSuites, SUITE_NAMES } from '@img/shared/kickstart';

/** The suite and the architecture, in every schema that carries them. */
const suiteField = { type: 'string', enum: SUITE_NAMES, description: `the Debian suite: ${offeredSuites()}` };
const archField = { type: 'string', enum: ARCH_NAMES, description: `the architecture: ${offeredArchitectures()}` };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });
const ok = (description: string, schema: object, type = 'application/json') => ({ description, content: { [type]: { schema } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'the job id' };
const operator = [{ basicAuth: [] }, { bearerAuth: [] }];
/** The job's token (a bearer header, or `token=` in the query, as the page's and the email's links carry it), or the operator. */
const owner = [{ jobToken: [] }, { jobTokenQuery: [] }, { basicAuth: [] }, { bearerAuth: [] }];
const tokenParam = { name: 'token', in: 'query', schema: { type: 'string' }, description: 'the job\'s token, when not sent as `Authorization: Bearer`' };
const revealParam = { name: 'reveal', in: 'query', schema: { type: 'string', enum: ['secrets'] }, description: 'show the passwords of `rootpw`, `sshpw` and `user --password` instead of `[redacted]`' };
const denied = { 401: error('no credential: this needs the job\'s token or the operator'), 403: error('a token that is not this job\'s, or wrong operator credentials') };
const operatorDenied = { 401: error('no operator credentials sent'), 403: error('wrong operator credentials'), 503: error('no operator credentials are configured, so operator routes refuse') };
const crossSite = { 403: error('refused: another site\'s Origin or `Sec-Fetch-Site: cross-site` (code `cross_origin`), or a credential that is not the right one') };

const submission = {
  type: 'object',
  description: 'a kickstart, or a platform of the default template (or of your own template in `config`) with an overlay',
  properties: {
    email: { type: 'string', format: 'email', maxLength: 254 },
    imagetype: { type: 'string', enum: imageTypes },
    kickstart: { type: 'string', description: 'the kickstart text' },
    config: { type: 'string', description: 'a YAML template (optional; the default template otherwise)' },
    platform: { type: 'string', description: 'a platform of the template; see /api/v1/platforms' },
    overlay: { type: 'string', description: 'comma-separated packages, @groups, -exclusions' },
    suite: {
      ...suiteField,
      description: `the Debian suite to build (${offeredSuites()}) when the kickstart's repo lines name none, or for the platform instead of its Suite; `
        + `absent: the kickstart's or the platform's, else the operator's IMG_DEFAULT_SUITE (${DEFAULT_SUITE} unless set). `
        + 'A suite the kickstart contradicts, or one not offered, is a 400 naming the field',
    },
    arch: {
      ...archField,
      description: `the architecture to build for (${offeredArchitectures()}); absent: the platform's Architecture, else ${DEFAULT_ARCH}. `
        + 'arm64 is built under emulation on amd64 build hosts, several times slower. One not offered, or one a platform is not made for, is a 400 naming the field',
    },
    callback_url: { type: 'string', format: 'uri', maxLength: 2048, description: 'http(s) URL the outcome is posted to, signed after the Standard Webhooks convention with the webhook_secret of the answer; the host must be on the operator\'s allow-list' },
    rebuild: {
      type: 'boolean', default: false,
      description: 'build again even when an identical request (same kickstart, image type, suite, architecture and builder) was built already, rather than answer from its image; '
        + 'the cached installed root file system is not used either (the package cache is), so the new image shows whether the request rebuilds to the same bytes',
    },
  },
  required: ['email', 'imagetype'],
};

/** The estimates and the timings, in both views of a job. */
const estimateProps = {
  estimated_start: { type: 'string', format: 'date-time', description: 'while the job waits: as the queue stands now; once it has ended: as estimated when it was queued' },
  estimated_finish: { type: 'string', format: 'date-time', description: 'while the job waits or builds: as the queue stands now; once it has ended: as estimated when it was queued' },
  estimated_build_s: { type: 'number', description: 'the build time expected, the median of recent builds of its kind' },
  estimate_basis: { type: 'string', description: 'which builds the estimate came from, e.g. "raw/amd64/boot, 7 builds"' },
  actual_start: { type: 'string', format: 'date-time', description: 'once ended: when the build started (when it ended, for a job answered without a build)' },
  actual_finish: { type: 'string', format: 'date-time', description: 'once ended' },
  estimate_error_pct: { type: 'number', description: 'once ended: |actual − estimated finish| as a percentage of the time from queueing to the end (at least 10 s)' },
  start: { type: 'string', enum: ['scratch', 'base', 'cached', 'identical'], description: 'how the build started, once image-creator said' },
  phase_times: {
    type: 'array', description: 'the time in each phase, from when the frontend first saw it to the next phase (the last: to the end, or now)',
    items: { type: 'object', properties: { phase: { type: 'string', enum: phases }, start: { type: 'string', format: 'date-time' }, seconds: { type: 'number' } } },
  },
} as const;

export function openApiDocument(publicUrl: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'IMG', version: '1', description: 'OS images built on demand: submit a kickstart or a template, follow the build, download the image.' },
    servers: [{ url: publicUrl }],
    paths: {
      '/api/v1/openapi.json': { get: { summary: 'this document', responses: { 200: ok('the OpenAPI document', { type: 'object' }) } } },
      '/api/v1/image-types': { get: { summary: 'the image types: built, not built yet, not supported', responses: { 200: ok('the types', ref('ImageTypes')) } } },
      '/api/v1/platforms': {
        get: {
          summary: 'the platforms of the default template, and the architecture each builds',
          responses: { 200: ok('the platforms', { type: 'object', properties: { platforms: { type: 'array', items: { type: 'string' } }, architectures: { type: 'object', additionalProperties: archField } } }) },
        },
      },
      '/api/v1/jobs': {
        get: {
          summary: 'list jobs, newest first',
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string' }, description: `comma-separated: ${['active', 'finished', ...jobStatuses].join(', ')}` },
            { name: 'email', in: 'query', schema: { type: 'string' }, description: 'only this submitter\'s jobs (the operator only: with it the request needs operator credentials)' },
            { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          ],
          responses: { 200: ok('a page of jobs, each in its public view', ref('JobList')), 400: error('a bad filter'), ...operatorDenied },
        },
        post: {
          summary: 'submit a build; the answer carries the job\'s `token`, which every other request about the job needs',
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: submission },
              'multipart/form-data': { schema: { ...submission, properties: { ...submission.properties, ksfile: { type: 'string', format: 'binary' }, template: { type: 'string', format: 'binary' } } } },
            },
          },
          responses: {
            201: ok('queued; `token` is the job\'s secret token', ref('Job')), ...crossSite, 400: error('the submission has errors; `fields` names each, with its line'),
            413: error('the upload is over the size limit'), 429: error('too many submissions from this client, or its share of pending jobs (by email or client address) is used up'),
            503: error('the queue is full or the broker is down'),
          },
        },
        delete: { summary: 'clear: remove every finished job and its files (operator)', security: operator, responses: { 200: ok('how many went', { type: 'object', properties: { deleted: { type: 'integer' } } }), ...operatorDenied, ...crossSite } },
      },
      '/api/v1/kickstart/check': {
        post: {
          summary: 'read a kickstart and check its packages, exclusions and groups against the real package index, as a submission would, without queueing anything (anyone)',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', required: ['kickstart'], additionalProperties: false, properties: { kickstart: { type: 'string' }, suite: { ...suiteField, description: 'the suite of a kickstart whose repo lines name none' }, arch: archField } } } },
          },
          responses: {
            200: ok('what a submission would say: errors and warnings by line, and how the packages were checked', ref('KickstartCheck')),
            400: error('not JSON with `kickstart`, or an unknown suite or architecture'), ...crossSite, 413: error('the kickstart is over the size limit'), 429: error('too many checks from this client'),
          },
        },
      },
      '/api/v1/jobs/{id}': {
        get: {
          summary: 'one job, with its queue position and estimated start while it waits: the whole job with its token or as the operator, its public view without',
          security: [...owner, {}], parameters: [idParam, tokenParam, revealParam],
          responses: { 200: ok('the job (`Job`), or without a credential its public view (`PublicJob`)', { oneOf: [ref('Job'), ref('PublicJob')] }), 403: denied[403], 404: error('no such job') },
        },
        delete: { summary: 'delete a finished job and its files (operator)', security: operator, parameters: [idParam], responses: { 200: ok('the deleted job', ref('Job')), ...operatorDenied, ...crossSite, 404: error('no such job'), 409: error('the job has not finished; cancel it first') } },
      },
      '/api/v1/jobs/{id}/kickstart': {
        get: {
          summary: 'the job\'s kickstart as text, passwords shown as `[redacted]` unless `reveal=secrets` (header X-Secrets-Redacted says when some were)',
          security: owner, parameters: [idParam, tokenParam, revealParam],
          responses: { 200: ok('the kickstart', { type: 'string' }, 'text/plain'), ...denied, 404: error('no such job, or a template job (its kickstart is not kept)') },
        },
      },
      '/api/v1/jobs/{id}/manifest': {
        get: {
          summary: 'the image\'s package manifest: every installed package (name, version, architecture, source, source_version) as dpkg listed it after %post; the SBOM (SPDX 2.3) is /images/{id}/sbom.spdx.json, the checksums /images/{id}/SHA256SUMS and their OpenPGP signature /images/{id}/SHA256SUMS.sign (key: /signing-key.asc)',
          security: owner, parameters: [idParam, tokenParam],
          responses: { 200: ok('the manifest', { type: 'object', required: ['format', 'job', 'created', 'packages'] }), ...denied, 404: error('no such job, or one without a manifest (failed, cancelled, not built yet, or built before manifests were kept): the message says which') },
        },
      },
      '/api/v1/jobs/{id}/cancel': { post: { summary: 'cancel a job that has not finished', security: owner, parameters: [idParam, tokenParam], responses: { 200: ok('the cancelled job', ref('Job')), ...denied, ...crossSite, 404: error('no such job'), 409: error('the job has already finished') } } },
      '/api/v1/jobs/{id}/retry': { post: { summary: 'submit the same request again as a new job; the answer carries the new job\'s token', security: owner, parameters: [idParam, tokenParam], responses: { 201: ok('the new job', ref('Job')), ...denied, ...crossSite, 404: error('no such job'), 409: error('the job has not finished'), 429: error('too many submissions, or the submitter\'s share of pending jobs is used up'), 503: error('the queue is full') } } },
      '/api/v1/jobs/{id}/log': {
        get: {
          summary: 'the build log from a byte offset; follow it by asking again from X-Log-Offset',
          security: owner,
          parameters: [idParam, tokenParam, { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } }, { name: 'max', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1048576 } }],
          responses: {
            200: { description: 'log text', headers: { 'X-Log-Offset': { schema: { type: 'integer' }, description: 'where the next read starts' }, 'X-Log-Size': { schema: { type: 'integer' } }, 'X-Job-Status': { schema: { type: 'string', enum: jobStatuses } } }, content: { 'text/plain': { schema: { type: 'string' } } } },
            400: error('a bad offset'), ...denied, 404: error('no such job'),
          },
        },
      },
      '/api/v1/jobs/{id}/events': {
        get: {
          summary: 'server-sent events: `job` (status, phase, progress), `log` (text; the event id is the log offset), `end`',
          security: owner,
          parameters: [idParam, { ...tokenParam, description: 'the job\'s token (EventSource cannot send headers)' }, { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } }, { name: 'Last-Event-ID', in: 'header', schema: { type: 'integer' } }],
          responses: { 200: ok('an event stream', { type: 'string' }, 'text/event-stream'), ...denied, 404: error('no such job'), 429: error('this client address holds its share of live connections'), 503: error('too many live connections') },
        },
      },
      '/api/v1/queue/events': { get: { summary: 'server-sent events: `change` whenever a job is added, moves or goes', responses: { 200: ok('an event stream', { type: 'string' }, 'text/event-stream'), 429: error('this client address holds its share of live connections'), 503: error('too many live connections') } } },
      '/api/v1/operator/stats': {
        get: {
          summary: 'the operator\'s dashboard figures from the time series in the database: builds by outcome, build time p50/p95 by type, queue depth and wait, failure codes (rising first), cache hit ratios, email delivery',
          security: operator,
          parameters: [{ name: 'range', in: 'query', schema: { type: 'string', enum: ['day', 'month'], default: 'day' }, description: 'per hour over the last day or month; the queue per minute over the day' }],
          responses: { 200: ok('the figures', { type: 'object' }), 400: error('a range other than day or month'), ...operatorDenied },
        },
      },
    },
    components: {
      securitySchemes: {
        basicAuth: { type: 'http', scheme: 'basic', description: 'the operator (IMG_OPERATOR_USER, IMG_OPERATOR_PASSWORD)' },
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'the operator token (IMG_OPERATOR_TOKEN)' },
        jobToken: { type: 'http', scheme: 'bearer', description: 'the job\'s token, as the submission answered it (`token`)' },
        jobTokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'the job\'s token in the query, as the job page\'s and the email\'s links carry it' },
      },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, fields: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' }, line: { type: 'integer' } } } } } } } },
        ImageTypes: { type: 'object', properties: { built: { type: 'array', items: { type: 'string' } }, not_supported: { type: 'array', items: { type: 'string' } } } },
        Job: {
          type: 'object',
          description: 'the whole job, for its owner (its token) and the operator',
          required: ['id', 'email', 'type', 'status', 'phase', 'created', 'token'],
          properties: {
            id: { type: 'string' }, email: { type: 'string' }, type: { type: 'string', enum: imageTypes },
            token: { type: 'string', description: 'the job\'s secret token: send it as `Authorization: Bearer TOKEN` or `?token=TOKEN`' },
            secrets_redacted: { type: 'boolean', description: 'passwords in `kickstart` or `config` are shown as `[redacted]`; ask with `reveal=secrets`' },
            status: { type: 'string', enum: jobStatuses }, phase: { type: 'string', enum: phases }, progress: { type: 'number' },
            source: { type: 'string', enum: ['kickstart', 'template'] }, kickstart: { type: 'string' }, platform: { type: 'string' }, overlay: { type: 'string' },
            suite: suiteField,
            arch: archField,
            package_check: {
              type: 'object', description: 'where the kickstart\'s packages were checked against the package index, and against what (or why not)',
              properties: { how: { type: 'string', enum: ['submission', 'build', 'skipped'] }, detail: { type: 'string' }, read_at: { type: 'string', format: 'date-time', description: 'when apt read the package lists the check used' } },
            },
            warnings: { type: 'array', maxItems: 101, description: 'kickstart lines accepted but not acted on, and packages the build left out (%packages --ignoremissing)', items: ref('Problem') },
            created: { type: 'string', format: 'date-time' }, started: { type: 'string', format: 'date-time' }, finished: { type: 'string', format: 'date-time' },
            duration_s: { type: 'number' }, size: { type: 'integer', description: 'the file as downloaded, in bytes' }, sha256: { type: 'string', description: 'of the file as downloaded' }, imagefile: { type: 'string' },
            compression: { type: 'string', enum: ['zstd', 'qcow2'], description: '`zstd`: raw, loop and ISO images download as a .zst (`disk_size` and `disk_sha256` are the image once decompressed); `qcow2`: compressed by qemu-img inside the qcow2, used as it is; absent: delivered as built' },
            disk_size: { type: 'integer', description: 'the image\'s size once decompressed: what it takes on a disk or stick' },
            disk_sha256: { type: 'string', description: 'the sha256 of the image once decompressed' },
            error: { type: 'string' }, error_code: { type: 'string' }, error_excerpt: { type: 'array', items: { type: 'string' } },
            queue_position: { type: 'integer' }, ...estimateProps,
            email_status: { type: 'object', properties: { state: { type: 'string', enum: ['sent', 'not-delivered', 'pending'] }, error: { type: 'string' } } },
            links: { type: 'object', additionalProperties: { type: 'string', format: 'uri' } },
          },
        },
        PublicJob: {
          type: 'object',
          description: 'what anyone may see of a job: the submitter masked, the type, the state, the place in the queue and the timings',
          required: ['id', 'email', 'type', 'status', 'phase', 'created'],
          properties: {
            id: { type: 'string' }, email: { type: 'string', description: 'masked: j***@example.com' }, type: { type: 'string', enum: imageTypes }, suite: suiteField, arch: archField,
            status: { type: 'string', enum: jobStatuses }, phase: { type: 'string', enum: phases }, progress: { type: 'number' },
            created: { type: 'string', format: 'date-time' }, started: { type: 'string', format: 'date-time' }, finished: { type: 'string', format: 'date-time' },
            duration_s: { type: 'number' }, queue_position: { type: 'integer' }, ...estimateProps,
            links: { type: 'object', properties: { page: { type: 'string', format: 'uri' }, api: { type: 'string', format: 'uri' } } },
          },
        },
        Problem: { type: 'object', required: ['message'], properties: { line: { type: 'integer', minimum: 1, description: 'the kickstart line' }, message: { type: 'string' } } },
        KickstartCheck: {
          type: 'object',
          required: ['ok', 'suite', 'architecture', 'errors', 'warnings', 'package_check'],
          properties: {
            ok: { type: 'boolean', description: 'no errors: a submission of this kickstart would be queued' },
            suite: suiteField, architecture: { type: 'string' },
            errors: { type: 'array', maxItems: 101, items: ref('Problem') },
            warnings: { type: 'array', maxItems: 101, items: ref('Problem') },
            package_check: {
              type: 'object', required: ['state'],
              description: '`checked`: against the package index read at `read_at`; `no-index`: its package lists were not read yet (the build will check them); `skipped`: a repository of the kickstart\'s own',
              properties: { state: { type: 'string', enum: ['checked', 'no-index', 'skipped'] }, against: { type: 'string' }, read_at: { type: 'string', format: 'date-time' }, reason: { type: 'string' } },
            },
          },
        },
        JobList: { type: 'object', properties: { jobs: { type: 'array', items: ref('PublicJob') }, total: { type: 'integer' }, page: { type: 'integer' }, pages: { type: 'integer' }, limit: { type: 'integer' } } },
      },
    },
  };
}
