/**
 * `GET /api/openapi.json`: the OpenAPI 3.1 document, built once from the route declarations.
 * Open to anyone: it describes the API and holds no data (like `GET /api/health`).
 */
import { readFileSync } from 'node:fs';
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi/document.ts';
import { routeCatalog } from '../openapi/catalog.ts';
import { appFile } from '../../platform/appFiles.ts';

// Read, not imported: package.json lies outside the compiled tree (src/ → dist/), and a JSON
// module import is still experimental on Node 20.
const packageJson = JSON.parse(readFileSync(appFile('package.json'), 'utf8')) as { version: string };

export const openApiRoutes = defineRoutes('Health', {
  getOpenApiDocument: {
    method: 'get',
    path: '/openapi.json',
    auth: 'anyone',
    summary: 'This document: the OpenAPI 3.1 description of the API',
    responses: {
      200: {
        description: 'The OpenAPI document',
        schema: z.looseObject({ openapi: z.literal('3.1.0'), info: z.looseObject({}), paths: z.looseObject({}), components: z.looseObject({}) }),
      },
    },
  },
});

let document: OpenApiDocument | null = null;

export function openApiDocument(): OpenApiDocument {
  document ??= buildOpenApiDocument(routeCatalog(), { version: packageJson.version });
  return document;
}

export function openApiRouter(ctx: ApiContext): Router {
  return routerFor(ctx, openApiRoutes, {
    getOpenApiDocument: () => openApiDocument(),
  });
}
