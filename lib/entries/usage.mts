// Every entry's --help text, in one place so that they read alike. An entry is these words, its
// flags, and one call into lib/.
import { CLEANUPS } from '../ops/hygiene/report.mts';
import { DEFAULT_BUILD_CACHE_CAP, DEFAULT_DISK_THRESHOLD, DEFAULT_KEEP } from '../ops/hygiene/run.mts';

export const DEPLOY_USAGE = `usage: npx zx scripts/deploy.mts <product> [options]

Pulls the release's images from the registry and replaces only the services whose image changed.
The VM never builds.

HTTP services behind the product's Caddy (kind proxy), or routed through the VM's shared edge
(routes, products/edge.mts), switch without a gap: the new container starts beside the old one,
must answer its health path, then Caddy is pointed at it (behind the edge, a single container
takes the service's routed name: no reload; otherwise the upstream file is rewritten and Caddy
reloaded), smoke checks run through Caddy for monitorSeconds, and the old container drains and
goes. Workers overlap the same way. Stateful services, and services with a fixed host port or
container_name, are replaced stop-first. A migration (product migrate) runs from the new image
first. Any failure puts traffic back on the old containers and records both releases.

Only what changed since the release the ledger records as deployed is touched; the plan gives
every service its reason ("web: web/src/app.ts changed since 3f2a91c", "worker: unchanged since
3f2a91c"). A service changed when a file under its build.context, build.dockerfile or build.paths
(product file, relative to the repo) changed between the deployed commit and --tag, or when its
resolved compose config changed (compose files, .env, env_file files: \`config\` output at the
deployed commit against the work tree, image tag aside), or when its container does not run the
recorded image. Unchanged services are not pulled and keep their containers. The first deploy,
tags that are not commits of the repo and services without build paths compare image ids instead.
Env files git does not track are invisible to git: berth warns when one changed; --all applies it.

options:
  --tag SHA          release to deploy. A SHA is a commit: the checkout is put there first
                     (fetched from its remote when it is not here), so its compose files and
                     config deploy with its images; a checkout with local edits to tracked
                     files is refused, naming them. Default: the tip of the product's branch
                     (product field branch, default main) on its repo's remote, fetched now;
                     refused, naming the newest commit whose images are all in the registry,
                     while CI has not pushed the tip's (a repo with no remote: its HEAD)
  --wait-for-images[=DURATION]
                     without --tag: poll the registry until CI pushed the tip's images, up to
                     DURATION (90s, 10m, 1h; bare: 15m)
  --only a,b         only these services (others keep running untouched)
  --include-stateful also replace stateful services (databases, emulators): stop-first
  --all              every service, changed or not: pulled and handed to compose even when its
                     image is the same (applies untracked env edits)
  --wait             wait for another deploy of the product to finish instead of failing
  --allow-dirty      deploy tracked files with local edits as they are (the ledger names them)
  --rollback [SHA]   roll back instead: to SHA, or with no SHA to the release before the current
                     one; the same as scripts/rollback.mts <product> SHA | --previous, and through
                     every shim (./deploy-<product>.sh --rollback [SHA])
  --build-on-vm      EMERGENCY ONLY (registry down): build the release on this VM from the
                     buildComposeFiles view, BuildKit pinned, no registry; loud, and recorded in
                     the ledger as kind build-on-vm
  --dry-run          print the plan and the exact commands; change nothing
  --json             print the result as JSON on stdout
  --verbose, -v      show every command, its time, and the compose flavour
  --help, -h         this text

environment: BERTH_REGISTRY, BERTH_WORKSPACE, BERTH_STATE_DIR, BERTH_PRODUCTS_DIR, BERTH_COMPOSE=v1|v2
(a .env file beside berth is read too; the real environment wins).
  BERTH_DEPLOY_LOG           JSON lines, one per deploy, with per-step durations
                             (default \$BERTH_STATE_DIR/deploys.jsonl; off disables)
  BERTH_PROMETHEUS_TEXTFILE  node_exporter textfile (.prom): last deploy duration, result,
                             timestamp per product, written atomically
  BERTH_WEBHOOK_URL          Slack-compatible webhook on success and failure (skipped when
                             nothing changed); a webhook that is down is a warning only`;

export const DEPLOY_ALL_USAGE = `usage: npx zx scripts/deploy-all.mts [options]

Deploys every product (products/*.mts, except those with deployAll: false), each at the HEAD of
its repo, in three phases:
  1. plan: for every product, which services changed since the release the ledger records as
     deployed, each with its reason; printed before anything changes (in the JSON with --json).
     A product whose HEAD is that release and whose containers run its recorded images is
     settled without Compose at all.
  2. pull: the changed images of every product, --parallel products at a time.
  3. switch: each product under its own lock, in parallel unless products share a Compose
     project or a repo directory.
A product that fails does not stop the others. Exit 0 when every product is ok or unchanged,
1 when any failed; the summary table names each product's result and the time of every step.

How a service counts as changed (see also deploy --help): a file under its build.context,
build.dockerfile or build.paths changed (git diff <deployed sha>..<HEAD>); or its resolved compose
config changed (compose files, .env and env_file files, compared as \`config\` output, not text);
or its container does not run the image the last release recorded. Services with no build
paths, and tags that are not commits, fall back to comparing image ids. Env files that git does
not track are invisible to git: berth warns when one changed, and --all applies it.

options:
  --products a,b   only these products
  --all            every service of every product, changed or not: pulled and handed to
                   compose even when its image is the same (applies untracked env edits)
  --parallel N     products planned, pulled and switched at once (default 4)
  --wait           wait for other deploys' locks instead of failing
  --dry-run        print every plan and the exact commands; change nothing
  --json           print plans and results as one JSON document on stdout
  --verbose, -v    show every command
  --help, -h       this text

environment (a .env beside berth is read too):
  BERTH_STATE_DIR            ledgers, locks, and the deploy log (default /var/lib/berth as root)
  BERTH_DEPLOY_LOG           JSON-lines log, one record per product deploy with per-step
                             durations (default \$BERTH_STATE_DIR/deploys.jsonl; off disables)
  BERTH_PROMETHEUS_TEXTFILE  a .prom file for node_exporter's textfile collector: last deploy
                             duration, result, timestamp, changed services and step times per
                             product (written atomically)
  BERTH_WEBHOOK_URL          Slack-compatible webhook: one message per run that deployed or
                             failed something (product, release, services changed, duration,
                             who ran it, the failing step's message). A webhook that is down is
                             a warning, never a failed deploy. BERTH_WEBHOOK_TIMEOUT_MS (5000).
  BERTH_REGISTRY, BERTH_WORKSPACE, BERTH_PRODUCTS_DIR, BERTH_COMPOSE=v1|v2, BERTH_WHO`;

export const BUILD_USAGE = `usage: npx zx scripts/build.mts <product> [options]

Builds the product's images (its build sections and the build: sections of its buildComposeFiles),
tags them :<commit sha> and :latest, and with --push pushes them. For CI or a builder machine:
the VM only pulls (deploy --tag <sha>).

options:
  --push             push to the registry (without it: build and tag locally only)
  --only a,b         only these services' images
  --allow-dirty      build uncommitted changes, tagged <sha>-dirty-<hash> (never :latest)
  --build-arg K=V    build argument for every image, over the product's (repeatable)
  --rebuild          build even images the registry already has for this release or sources
  --cache MODE       registry: cache-from/cache-to in the registry; none (default: BERTH_BUILD_CACHE or none)
  --parallel N       images built at once when buildx is missing (default: CPUs, at most 4)
  --dry-run          print the plan, the bake definition and the exact commands; build nothing
  --json             print the result as JSON on stdout
  --verbose, -v      show every command and its time
  --help, -h         this text

An image whose :<sha> is in the registry is not rebuilt; one whose sources (context, Dockerfile,
paths, args) equal those of :latest is tagged again without a build, so its digest stays the same.

environment: BERTH_REGISTRY, BERTH_REGISTRY_USER + BERTH_REGISTRY_TOKEN (docker login, token on
stdin), BERTH_BUILD_CACHE, BERTH_WORKSPACE, BERTH_PRODUCTS_DIR, and the variables the product's
build secrets name (e.g. GITEA_NPM_TOKEN). Compose interpolates the development view from the
environment too: offline, BASE_IMAGE=<local image> stands in for a base image from a hub.`;

export const HYGIENE_USAGE = `usage: npx zx scripts/hygiene.mts [options]

Meant for cron (see scripts/cron/). In order:
  images       removes images of the products' own repositories that no product needs: each
               service's <registry>/<image> (image in the product file, default
               <product>-<service>; registry the product's, default BERTH_REGISTRY), any tag or
               digest. Always keeps, by image ID whatever their tags, the images of every
               product's containers and of its last N releases (keepReleases in the product file,
               default ${DEFAULT_KEEP}), so a rollback to any of them needs no registry. Images of
               other repositories are never touched. A product being deployed right now (its lock
               is held) is left alone until the next run.
  dangling     removes untagged images no container uses (engine-wide), except ones a kept
               release names
  build-cache  only with BERTH_HYGIENE_BUILDER_PRUNE=on (default off): prunes the build cache down to
               a cap (docker builder prune --keep-storage). The cache is the whole engine's, every
               user's and not berth's alone, and the VM never builds: off, it is only reported
Then reports: containers whose logs are not rotated (with the fix), disk use of Docker's root
directory, and the memory limits of every running product container summed against host RAM,
naming services with neither a limit nor a reservation. One failing cleanup never stops the
others or the report.

exit status: 0, or 1 when a cleanup failed or the disk is above the threshold (then the webhook in
BERTH_WEBHOOK_URL, if set, gets a Slack-compatible message).

options:
  --keep N             keep the last N releases of every product (overrides keepReleases)
  --products a,b       only these products' images and containers
  --skip a,b           skip cleanups: ${CLEANUPS.join(', ')}
  --build-cache-cap S  build cache to keep, e.g. 5GB (default BERTH_BUILD_CACHE_CAP or ${DEFAULT_BUILD_CACHE_CAP});
                       needs BERTH_HYGIENE_BUILDER_PRUNE=on
  --disk-threshold P   alert at P% used (default BERTH_DISK_THRESHOLD or ${DEFAULT_DISK_THRESHOLD})
  --dry-run            print what would be removed; remove nothing
  --json               the report as JSON on stdout
  --verbose, -v        show every command
  --help, -h           this text`;

export const RETIRE_USAGE = `usage: npx zx scripts/retire.mts <product> [--yes] [options]

Takes a product off this VM for good. First the plan, always: its routes on the shared edge (its
<product>.caddy site file), its containers (the Compose project's, one-off and berth's own
replicas included), its networks, its named volumes, the images of its own repositories, and its
ledger. Without --yes that is all: nothing changes and the exit status is 2.

With --yes, in this order: the site file is removed and the edge reloaded (only if the product
had one; a reload the edge refuses puts the file back and stops there), the containers are
stopped (each with its own grace period) and removed, then the networks, the images and, with
--volumes, the named volumes; the ledger and the rest of the product's state are moved to
<state dir>/<product>/retired/<time>/. Refused while a deploy holds the product's lock. The
checkout and the product file are left for you to delete (then npm run shims).

options:
  --yes, -y      carry the plan out
  --volumes      also remove the named volumes, and their data (default: kept)
  --keep-ledger  leave the ledger in place (a later deploy of the name continues its history)
  --dry-run      print the plan and the exact commands; change nothing
  --json         the plan and what was done as JSON on stdout
  --verbose, -v  show every command
  --help, -h     this text`;

export const ROLLBACK_USAGE = `usage: npx zx scripts/rollback.mts [product] <sha> | [product] --previous [options]

Switches a product back to a release recorded in its ledger, through the same health-checked path
as a deploy, and records it (kind rollback). Before anything changes it checks that every image of
that release is still on this engine (by image ID) or in the registry (by digest), and refuses
otherwise. Local images need no registry: no pull, no build.

  <sha>        a recorded release: the full tag or a unique prefix (4+ characters); without a
               product, the product whose ledger holds it
  --previous   the release that ran before the current one (after a rollback: before the restored
               release first ran, so repeating it walks further back)

A release is its commit: the rollback also puts the product's checkout back at that commit, so the
release's own compose files and config come back with its images (refused while tracked files
have local edits, which it names).

The plan (each service: replace, keep or start, and why) is decided once from the recorded image
IDs and printed before anything changes; --dry-run prints the same plan. Only http and worker
services are re-pointed. The summary table and the one-line result go to stdout.

options:
  --image-only   the release's images under the config the checkout has now (an emergency)
  --wait         wait for another deploy of the product to finish instead of failing
  --dry-run      print the plan and the exact commands; change nothing
  --json         print the result as JSON on stdout
  --verbose, -v  show every command and its time
  --help, -h     this text

npx zx scripts/status.mts lists the releases each product can roll back to.`;

export const STATUS_USAGE = `usage: npx zx scripts/status.mts [product] [--json]

For each product (or the one named) and each service: the release tag and image digest running
now, read from the containers; when, by whom and through which release it was deployed (the
ledger); health; and the releases a rollback can still reach (images on this engine, or in the
registry: "(pull)"). Products whose repo is not on this machine are "not deployed here". A
product whose definition is wrong is "error", with the reason and the fix; status prints the rest
all the same and exits 2.

Drift, one \`drift:\` line each, from the comparison scripts/repair.mts makes: "web routed to a
container that is gone", "proxy restarting: <its last log line>", containers left by an
interrupted deploy, a release serving that the ledger never recorded ok, no ledger. A product with
drift is degraded and status exits 1 (2 wins when a definition is in error).

The table (or the JSON) goes to stdout; errors to stderr.

options:
  --json         the same as JSON on stdout (what the dashboard reads)
  --verbose, -v  show every command
  --help, -h     this text`;

export const REPORT_USAGE = `usage: npx zx scripts/report.mts [product…] [--since 30d] [--json] [--html FILE]

Delivery metrics per product and in total, from each product's release ledger and the deploy log
(no registry, no engine): deploys per day and week, change failure rate (failed, rolled back
automatically, or rolled back by hand within 24 hours while it ran), time to restore, lead time
(commit time of the released SHA, from the product's checkout, to the time it went live), deploy
duration and its step split (p50/p95), rollbacks, image sizes against maxImageMb, and the
releases a rollback can reach. Each of the four key metrics is compared with the window before.
Ledger lines that cannot be read are skipped with a warning naming the file and line.

options:
  --since SPAN   the window, ending now: 30d (default), 12h, 2w
  --json         the report as JSON on stdout (for dashboards)
  --html FILE    also write one self-contained page (inline SVG, no network) to FILE
  --verbose, -v  show every command
  --help, -h     this text`;

export const REPAIR_USAGE = `usage: npx zx scripts/repair.mts [product…] [--dry-run] [--json]

Makes what runs, the routes and the ledger agree again, for each product named (default: every
product in the catalogue), under the product's deploy lock. Every deploy and rollback runs the
same repair first. It compares the ledger, the upstream files (or the edge site file) and the
containers, and then:
  - brings the product's own proxy back when it is missing, stopped or restarting: through
    Compose with berth's environment (IMAGE_TAG of the ledger's release, REGISTRY,
    BERTH_UPSTREAMS), then a restart if it still does not stay up
  - rewrites upstream files so they name running containers (by name, never by IP), and reloads
    the proxy (a reload the engine refuses becomes a restart, said in one line)
  - removes containers an interrupted deploy left beside the ones serving
  - checks (health, then smoke through the proxy) a release a killed deploy had switched to,
    before recording it ok; one that fails goes back to the ledger's release if it still runs
With the state dir lost it rebuilds the routes from the running containers and says which
history is gone (no ledger: rollback has nothing to go back to until the next deploy).

exit status: 0, or 1 when something could not be repaired (one error: line each).

options:
  --dry-run      say what it would do, change nothing
  --json         the report as JSON on stdout
  --verbose, -v  show every command
  --help, -h     this text`;
