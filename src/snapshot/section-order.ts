/**
 * The order sections must come in, checked by the writer (a cuju bug) and the reader
 * (a damaged or foreign stream) alike:
 *
 *   memory* (pass numbers never decrease) · vcpu 0 … vcpu N-1 · vm · device 0 … device D-1 · end
 *
 * Memory first so a migration can send RAM in several pre-copy passes while the guest
 * runs; everything that needs the guest stopped comes after the last pass.
 */
import { SnapshotError } from './errors.js';
import { SECTION_NAMES, SectionType } from './format.js';

type Phase = 'memory' | 'vcpu' | 'vm' | 'device' | 'end' | 'done';

export class SectionOrder {
  private phase: Phase = 'memory';
  private lastPass = 0;
  private next = 0;

  constructor(private readonly vcpuCount: number, private readonly deviceCount: number) {}

  get finished(): boolean {
    return this.phase === 'done';
  }

  /** What may come next, for messages. */
  private expected(): string {
    switch (this.phase) {
      case 'memory': return `a memory section (pass >= ${this.lastPass}) or vcpu 0`;
      case 'vcpu': return `vcpu ${this.next}`;
      case 'vm': return 'the vm section';
      case 'device': return `device ${this.next}`;
      case 'end': return 'the end section';
      case 'done': return 'nothing (the snapshot has ended)';
    }
  }

  /** Accepts section (type, index) or throws SnapshotError naming what was expected. */
  accept(type: number, index: number): void {
    const expected = this.expected();
    const bad = () => new SnapshotError(`snapshot section out of order: found ${SECTION_NAMES[type] ?? `unknown type ${type}`} ${index} where ${expected} should be`);
    if (this.phase === 'memory') {
      if (type === SectionType.Memory) {
        if (index < this.lastPass) throw bad();
        this.lastPass = index;
        return;
      }
      this.phase = 'vcpu';
      this.next = 0;
    }
    switch (this.phase) {
      case 'vcpu':
        if (type !== SectionType.Vcpu || index !== this.next) throw bad();
        if (++this.next === this.vcpuCount) this.phase = 'vm';
        return;
      case 'vm':
        if (type !== SectionType.Vm || index !== 0) throw bad();
        this.next = 0;
        this.phase = this.deviceCount > 0 ? 'device' : 'end';
        return;
      case 'device':
        if (type !== SectionType.Device || index !== this.next) throw bad();
        if (++this.next === this.deviceCount) this.phase = 'end';
        return;
      case 'end':
        if (type !== SectionType.End || index !== 0) throw bad();
        this.phase = 'done';
        return;
      default:
        throw bad();
    }
  }
}
