/**
 * An entity's key is its column values joined by "/" (e.g. "SITE-042/2"): short, readable in messages and
 * topics, and the same key the model's normalisation uses. A "/" or "%" inside a value is percent-encoded
 * so the key can always be split back into the values.
 */
export function entityKey(values: readonly string[]): string {
  return values.map((v) => v.replace(/%/g, '%25').replace(/\//g, '%2F')).join('/');
}

export function entityValues(key: string): string[] {
  return key.split('/').map((v) => v.replace(/%2F/g, '/').replace(/%25/g, '%'));
}
