// Each service image's compressed size, for the ledger (the delivery report's image-size trend).
// A digest's size never changes, so one the ledger already knows is reused; a rollback (offline:
// the registry may be down) asks nothing. A size that cannot be learned is left out, never a failure.
import { errorMessage } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { registryCredentials } from '../registry/client.mts';
import { createImageSizes, type ImageSizes } from '../registry/image-size.mts';
import { readLedger, type ServiceImage } from '../releases/ledger.mts';

export async function addImageSizes(
  images: Record<string, ServiceImage>,
  options: { stateDir: string; env: NodeJS.ProcessEnv; offline?: boolean; ui: Ui; sizes?: ImageSizes },
): Promise<void> {
  const known = new Map<string, number>();
  for (const record of readLedger(options.stateDir)) {
    for (const image of Object.values(record.services ?? {})) {
      if (image?.digest && typeof image.sizeBytes === 'number') known.set(image.digest, image.sizeBytes);
    }
  }
  let ask = options.sizes;
  for (const [service, image] of Object.entries(images)) {
    if (!image.digest) continue;
    const size = known.get(image.digest);
    if (size !== undefined) {
      image.sizeBytes = size;
      continue;
    }
    if (options.offline) continue;
    if (!ask) {
      try {
        ask = createImageSizes(registryCredentials(options.env), 3_000);
      } catch (error) {
        options.ui.debug(`image sizes not recorded: ${errorMessage(error)}`);
        return;
      }
    }
    const answer = await ask(image.digest);
    if ('bytes' in answer) image.sizeBytes = answer.bytes;
    else options.ui.debug(`${service}: image size not recorded (${answer.unknown})`);
  }
}
