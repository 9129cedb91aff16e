// The OpenAPI document and the API's routes name the same paths and methods, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Router } from 'express';
import { apiRoutes } from '../../src/routes/api.ts';
import { dashboardRoutes } from '../../src/routes/dashboard.ts';
import { provenanceRoutes } from '../../src/routes/provenance.ts';
import { openApiDocument } from '../../src/api/openapi.ts';
import type { RouteDeps } from '../../src/routes/deps.ts';

interface Layer { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } }

function routesOf(router: Router): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') out.push(`${m.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((router as unknown as { stack: Layer[] }).stack);
  return out.sort();
}

test('every /api/v1 route is in the OpenAPI document, and every path of the document is a route', () => {
  const deps = {
    config: { IMG_PUBLIC_URL: 'http://img.test', IMG_MAX_UPLOAD_BYTES: 1024 },
    submitGuards: [],
    checkGuards: [],
    requireOperator: () => undefined,
    access: { require: () => () => undefined },
  } as unknown as RouteDeps;
  // The dashboard's routes exist when the frontend has its database.
  const routes = [...routesOf(apiRoutes(deps)), ...routesOf(provenanceRoutes(deps)), ...routesOf(dashboardRoutes({ ...deps, db: {} } as unknown as RouteDeps))].filter((r) => r.includes(' /api/v1/')).sort();
  const doc = openApiDocument('http://img.test');
  const documented = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    .sort();
  assert.ok(routes.length >= 12, `found the routes: ${routes.join(', ')}`);
  assert.deepEqual(routes, documented);
});

test('the document is OpenAPI 3.1 with a server, and every operation says what it answers', () => {
  const doc = openApiDocument('http://img.test');
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.servers[0]?.url, 'http://img.test');
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops as Record<string, { summary?: string; responses?: Record<string, unknown> }>)) {
      assert.ok(op.summary, `${method} ${path} has a summary`);
      assert.ok(op.responses && Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} documents a success`);
      if (path.includes('{id}')) assert.ok(Object.keys(op.responses ?? {}).includes('404'), `${method} ${path} documents its 404`);
    }
  }
  // Every $ref points at a schema that exists.
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
  for (const r of new Set(refs)) assert.ok(r.split('/').pop()! in doc.components.schemas, `${r} exists`);
});
