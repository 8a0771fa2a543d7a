/**
 * The guest program of the migration tests: forever, for every page of a 224-page
 * sweep area, increment a u64 counter and store the counter's new value in the page.
 * So the guest dirties RAM non-stop (pre-copy never sees a clean pass) and its RAM has
 * an invariant a test can check on a paused copy (checkSweepInvariant): along the
 * sweep area the values go up by one, with at most one step back where the current
 * sweep meets the previous one, and none exceeds the counter. A page copied stale,
 * torn or zeroed breaks it.
 */
export const CODE_GPA = 0x100000;
export const COUNTER_GPA = 0x101000;
export const SWEEP_FIRST = 0x110000;
export const SWEEP_END = 0x1f0000;
export const SWEEP_PAGES = (SWEEP_END - SWEEP_FIRST) / 0x1000;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export const SWEEP_GUEST = Uint8Array.from([
  0xbb, ...le32(SWEEP_FIRST), //                    0: mov ebx, SWEEP_FIRST
  0x48, 0xff, 0x04, 0x25, ...le32(COUNTER_GPA), //  5: inc qword [COUNTER_GPA]
  0x48, 0x8b, 0x04, 0x25, ...le32(COUNTER_GPA), // 13: mov rax, [COUNTER_GPA]
  0x48, 0x89, 0x03, //                             21: mov [rbx], rax
  0x48, 0x81, 0xc3, ...le32(0x1000), //            24: add rbx, 0x1000
  0x48, 0x81, 0xfb, ...le32(SWEEP_END), //         31: cmp rbx, SWEEP_END
  0x72, 0xdd, //                                   38: jb 5
  0xeb, 0xd6, //                                   40: jmp 0
]);

interface ReadableRam {
  readU64(gpa: number): bigint;
  view(gpa: number, length: number): Uint8Array;
}

/** Throws (naming the page) unless `ram`, a paused guest's RAM, is one the program could have left. */
export function checkSweepInvariant(ram: ReadableRam, what: string): void {
  const code = ram.view(CODE_GPA, SWEEP_GUEST.length);
  if (!Buffer.from(code).equals(Buffer.from(SWEEP_GUEST))) throw new Error(`${what}: the guest code changed`);
  const counter = ram.readU64(COUNTER_GPA);
  if (counter < BigInt(SWEEP_PAGES)) throw new Error(`${what}: the guest has not swept all pages yet (counter ${counter})`);
  let stepsBack = 0;
  let previous = ram.readU64(SWEEP_FIRST);
  for (let gpa = SWEEP_FIRST; gpa < SWEEP_END; gpa += 0x1000) {
    const v = ram.readU64(gpa);
    if (v > counter) throw new Error(`${what}: page 0x${gpa.toString(16)} holds ${v}, more than the counter ${counter}`);
    if (gpa > SWEEP_FIRST && v !== previous + 1n) {
      stepsBack++;
      if (v !== previous + 1n - BigInt(SWEEP_PAGES) || stepsBack > 1) {
        throw new Error(`${what}: page 0x${gpa.toString(16)} holds ${v} after ${previous}: a stale or damaged page`);
      }
    }
    previous = v;
  }
}
