// A container as the engine layer reports it, for unit tests: a running, healthy one with no
// networks or labels unless the test says otherwise.
import type { ContainerState } from '../../lib/engine/engine.mts';

export function containerState(fields: Partial<ContainerState> & Pick<ContainerState, 'id'>): ContainerState {
  return {
    name: fields.id,
    service: 'web',
    image: '',
    imageId: '',
    running: true,
    status: 'running',
    health: 'healthy',
    healthLog: [],
    restartCount: 0,
    createdAt: '',
    networks: {},
    labels: {},
    ...fields,
  };
}
