/** Why a body could not be turned into feed items; the code is stable, the message says what to look at. */
export type FeedErrorCode =
  | 'gzip_without_header'
  | 'unsupported_encoding'
  | 'not_xml'
  | 'malformed_xml'
  | 'html_not_feed'
  | 'not_a_feed'
  | 'empty';

export class FeedParseError extends Error {
  override name = 'FeedParseError';
  constructor(
    readonly code: FeedErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${message}`, options);
  }
}
