import { describe, expect, it } from 'vitest';
import { loadProduct, loadSettings, listProducts } from '../../lib/config/load.mts';
import { validateProduct } from '../../lib/config/validate.mts';
import { BERTH_ROOT } from '../../lib/config/load.mts';

describe('product validation', () => {
  it('takes a service image budget in MB, a positive number', () => {
    const product = (maxImageMb: unknown) =>
      validateProduct({ name: 'app', repo: 'app', composeFiles: ['c.yaml'], services: { web: { kind: 'worker', maxImageMb } } }).errors;
    expect(product(500)).toEqual([]);
    expect(product(0.5)).toEqual(['services.web.maxImageMb: expected a number from 1 to 100000']);
    expect(product('500')).toEqual(['services.web.maxImageMb: expected a number from 1 to 100000']);
  });

  it('reports every error at once, each with its path', () => {
    const { errors } = validateProduct({
      name: 'Bad Name',
      repo: 3,
      composeFiles: [],
      services: {
        web: { kind: 'http', health: { path: 'api/version', port: 70000 }, bogus: 1 },
        db: { kind: 'database' },
        'Up Per': { kind: 'worker' },
      },
      smoke: [{ status: 200 }],
      migrate: { service: 'nope', command: [] },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'name: lower-case letters, digits, - and _ only',
        'repo: expected a non-empty string',
        'composeFiles: expected a non-empty list of strings',
        'services.web.bogus: unknown field (expected one of kind, image, health, build, drainSeconds, stopFirst, routes, maxImageMb)',
        'services.web.health.path: expected a string starting with /',
        'services.web.health.port: expected an integer from 1 to 65535',
        'services.db.kind: expected one of http, worker, stateful, proxy',
        'services.Up Per: service names are lower-case letters, digits, - and _',
        'smoke[0].path: required',
        "migrate.service: unknown service 'nope' (services: web, db, Up Per)",
        'migrate.command: expected a non-empty list of strings',
      ]),
    );
    expect(errors).toHaveLength(11);
  });

  it('accepts a minimal product and warns about an HTTP service with no health path', () => {
    const result = validateProduct({ name: 'ok', repo: 'ok', composeFiles: ['c.yml'], services: { web: { kind: 'http' } } });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual(["services.web.health: not set; berth relies on the image's Docker healthcheck"]);
  });

  it('the shipped products are all valid data', async () => {
    const settings = loadSettings({ BERTH_REGISTRY: 'registry.internal:5000', BERTH_WORKSPACE: '/nonexistent' });
    const names = listProducts(settings);
    expect(names).toEqual(['clock', 'common_plat', 'dashboard', 'example', 'invttrdg', 'notes']);
    for (const name of names) {
      const module = (await import(`${BERTH_ROOT}products/${name}.mts`)) as { default: unknown };
      expect(validateProduct(module.default, name).errors, name).toEqual([]);
    }
    // Their repos are not on this machine: resolution says where it looked and how to fix it.
    await expect(loadProduct('clock', settings)).rejects.toThrow(
      /repo: \/nonexistent\/clock does not exist \(clone the repo there or set BERTH_WORKSPACE\)/,
    );
    const example = await loadProduct('example', settings);
    expect(example.services.web?.repository).toBe('registry.internal:5000/example-web');
  });
});
