// The REST (JSON) management routes: workspaces, health, Prometheus metrics
// and the OpenAPI document that describes them.
import { openApiDocument } from './openapi.js';

/** The metrics summary of a workspace, as `bridge.metrics(id)` gives it. */
function summary(bridge, metrics, id) {
  return { id, sessions: metrics.sessionCount(id), metrics: bridge.metrics(id) };
}

/**
 * Adds the management routes to `router`.
 * @param {import('express').Router} router
 */
export function managementRoutes(router, { bridge, guards, metrics }) {
  function markRest(_req, res, next) {
    res.locals.fastmcpBridgeApi = 'rest';
    next();
  }
  const common = [markRest, ...guards.common];

  router.get('/health', ...common, (_req, res) => {
    res.json({ status: 'ok', workspaces: bridge.workspaceIds.length, sessions: metrics.sessionCount() });
  });

  router.get('/workspaces', ...common, async (req, res) => {
    const ids = await guards.visibleWorkspaces(req);
    res.json({ workspaces: ids.map((id) => summary(bridge, metrics, id)) });
  });

  router.get('/workspaces/:id', ...common, guards.checkWorkspace, (req, res) => {
    res.json({ ...summary(bridge, metrics, req.params.id), mcp: `${req.baseUrl}/workspaces/${req.params.id}/mcp` });
  });

  router.get('/metrics', ...common, async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.set('Content-Type', metrics.registry.contentType).send(text);
  });

  router.get('/openapi.json', ...common, (req, res) => {
    res.json(openApiDocument(req.baseUrl || '/'));
  });
}
