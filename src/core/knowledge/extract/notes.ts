/** What a PDF's reader says about what it could not read: shared by the reader and its callers. */

export const NO_TEXT_LAYER_MESSAGE = 'This PDF has no text layer (a scan?): there is nothing to index. Run it through OCR first.';

export function pagesReadNote(read: number, total: number): string {
  return `read the first ${read} of ${total} pages`;
}
