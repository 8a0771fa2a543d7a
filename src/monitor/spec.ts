/** What the CLI parser produces for `-mon`, `-qmp`, `-monitor`. */
import type { ChardevSpec } from '../chardev/spec.js';

export type MonitorMode = 'readline' | 'control';

export interface MonitorSpec {
  /** 'readline' = HMP (human text), 'control' = QMP (JSON). */
  mode: MonitorMode;
  chardev: ChardevSpec;
  /** `-mon ...,pretty=on`: indent QMP output (QMP only). */
  pretty?: boolean;
}
