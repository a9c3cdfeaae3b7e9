// The notify folder's public surface.
export { NotifyPlane, type NotifyNode, type NotifyPlaneOptions, type TestDelivery } from './notify-plane.js';
export { Notifier, NOTIFIER_DEFAULTS, backoffMs, type NotifierClock, type NotifierHost, type NotifierOptions, type NotifierStats, type PostOutcome } from './notifier.js';
export { EVENT_ID_HEADER, SIGNATURE_HEADER, bodyOf, requestOf, signature, verifySignature, type WebhookBody, type WebhookRequest } from './webhook.js';
export { postWebhook } from './http-post.js';
export { notifyKeyOf, NOTIFY_KEY_BYTES_MIN } from './key.js';
