/**
 * The memory the CLI reads HU volumes into: a second thread faults in the pages ahead of the
 * conversion (dicom/nodeVolumeMemory.ts); one helper per process, unref'd.
 */
import { createNodeVolumeMemory } from '../dicom/nodeVolumeMemory';
import type { VolumeMemory } from '../dicom/volumeMemory';

let memory: VolumeMemory | null = null;

export function cliVolumeMemory(): VolumeMemory {
  return (memory ??= createNodeVolumeMemory());
}
