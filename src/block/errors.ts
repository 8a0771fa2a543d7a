/** Errors about disk images, each one line that names the image and the fix. */

/** The image file cannot be opened (missing, permissions, not a regular file...). */
export class ImageOpenError extends Error {
  override readonly name = 'ImageOpenError';
}

/** The image is not in a format cuju reads (only raw). */
export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
}

/** Another process holds a conflicting lock on the image. */
export class ImageLockedError extends Error {
  override readonly name = 'ImageLockedError';
}

/** An option of the drive is not supported (e.g. an unknown cache mode). */
export class ImageOptionError extends Error {
  override readonly name = 'ImageOptionError';
}

/** A read/write/flush on an open image failed (reported to the guest as an I/O error). */
export class BlockIoError extends Error {
  override readonly name = 'BlockIoError';
}

/** Building an ext4 image failed. */
export class MakeExt4Error extends Error {
  override readonly name = 'MakeExt4Error';
}
