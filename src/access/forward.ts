// How a follower forwards a request to the leader without changing who asked.
//
// The follower re-sends the caller's Authorization header as it came and nothing else that
// names a principal; the leader runs authorize() on it as on any request. No signed
// "forwarded principal" header exists, because none is needed:
// - The leader trusts nothing the follower says about identity, so a follower (or anyone who
//   reaches the leader's port) cannot elevate or forge a principal: there is no header to forge.
// - The leader's registry is the newest: a token revoked in a committed entry stops working
//   there even if the follower has not applied the revoke yet.
// - There is no clock skew window, no replay window, no key to derive or rotate.
// The bearer secret does travel a second hop; that hop runs between nodes of one cluster,
// over TLS that trusts only --peer-ca when TLS is on, and the follower had the secret anyway.
//
// Origin is dropped: the receiving node already applied the Origin rule (api.md: a write it
// forwards "is not checked again"), and the leader would judge it against its own Host. A
// request without Origin does not come from a browser page, so dropping it opens nothing.

/** The only request headers a follower copies to the leader. */
export const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept'] as const;

/** The headers to send to the leader, from the incoming request's (Node's lower-cased) headers. */
export function forwardedRequestHeaders(incoming: Readonly<Record<string, string | readonly string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming[name];
    // Node joins repeated headers or keeps the first; an array here is copied as its first
    // value only for harmless headers. Authorization is never an array in Node, but if it
    // were, dropping it makes the leader answer 401 rather than guess.
    if (typeof value === 'string') out[name] = value;
    else if (value !== undefined && name !== 'authorization' && value[0] !== undefined) out[name] = value[0];
  }
  return out;
}
