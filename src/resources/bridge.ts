// The name every rental bridge's interface starts with: the rental's network options set it, and
// the host firewall matches `-i cmr+` on it, so one rule set covers every rental present and future.
export const RENTAL_BRIDGE_PREFIX = 'cmr';
