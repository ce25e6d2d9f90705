// Cadenza edge authorization (njs 0.7.9, Debian's libnginx-mod-http-js).
//
// Verifies the signed media URL `/media/{kid}~{exp}~{depth}~{sig}/{key}` exactly as
// src/cadenza/delivery/signing.py `verify` does, so nginx can serve segments, variant playlists
// and progressive files without asking Python. Change both together; tests/e2e/test_nginx.py
// runs the same cases through both and fails when they disagree.
//
// njs notes: every request runs in a fresh clone of this module's VM, so nothing computed here
// survives between requests (no key cache to go stale on rotation, nothing to leak between
// listeners); plain ES5 style because njs 0.7 lacks parts of ES6 (no `class`, no default params).

var crypto = require('crypto');

// Same shapes as signing._TOKEN and storage.base._KEY (ASCII only: JS `\d` is [0-9]).
var TOKEN = /^([A-Za-z0-9_-]{1,32})~([0-9]{1,12})~([0-9]{1,2})~([A-Za-z0-9_-]{43})$/;
var KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
var MAX_KEY = 1000;

// HMAC-SHA256 in base64url without padding is 43 characters; the last one carries 4 bits of the digest
// and 2 zero bits. Python compares the strings, so a last character that differs only in those spare
// bits is "bad signature" there: accept only the canonical ones to agree.
var CANONICAL_LAST = 'AEIMQUYcgkosw048';

// Compare every byte whatever the first difference, so response time says nothing about how much of
// a forged signature was right. Over the 32 raw bytes rather than the 43 characters: njs runs this
// loop in its interpreter, and bytes are cheaper to index than string characters.
function sameBytes(a, b) {
    var n = a.length;
    var diff = n ^ b.length;
    for (var i = 0; i < n; i++) {
        diff |= a[i] ^ b[i];
    }
    return diff === 0;
}

// signing.scope_of; null where Python raises (fewer than `depth` slashes in the key).
function scopeOf(key, depth) {
    var end = -1;
    for (var n = 0; n < depth; n++) {
        end = key.indexOf('/', end + 1);
        if (end < 0) {
            return null;
        }
    }
    return depth === 0 ? key : key.substring(0, end + 1);
}

// signing.verify: '' when `token` opens `key` for a client at `ip` at time `now` (Unix seconds,
// may be fractional), else the same reason string Python's SignatureError carries. Checks run in
// Python's order so both give the same reason for the same input.
function verify(keys, token, key, ip, now) {
    var m = TOKEN.exec(token);
    // njs regexps are PCRE: `$` also matches before a final newline, so insist on the whole string.
    if (!m || m[0] !== token) {
        return 'malformed token';
    }
    var kid = m[1];
    // hasOwnProperty: a kid such as "constructor" or "__proto__" must not find Object's members.
    if (!Object.prototype.hasOwnProperty.call(keys, kid) || typeof keys[kid] !== 'string') {
        return 'unknown key id';
    }
    // Python signs int(exp) and int(depth): leading zeros are dropped before signing.
    var exp = parseInt(m[2], 10);
    var depth = parseInt(m[3], 10);
    var scope = scopeOf(key, depth);
    if (scope === null) {
        return 'token depth reaches past the object key';
    }
    var msg = kid + '|' + exp + '|' + (ip || '') + '|' + scope;
    var expected = crypto.createHmac('sha256', keys[kid]).update(msg).digest();
    var sig = m[4];
    var good = sameBytes(expected, Buffer.from(sig, 'base64url'));
    // Signature before expiry, as in Python: timing says nothing about which check failed.
    if (!good || CANONICAL_LAST.indexOf(sig.charAt(42)) < 0) {
        return 'bad signature';
    }
    if (exp < now) {
        return 'token expired';
    }
    return '';
}

function keyring(r) {
    try {
        return JSON.parse(r.variables.cadenza_signing_keys);
    } catch (e) {
        r.error('cadenza: $cadenza_signing_keys is not a JSON object of kid -> secret');
        return null;
    }
}

// js_set $cadenza_denied: '' lets the request through; anything else is the reason for a 403.
// Reads the captures $cadenza_token and $cadenza_key of the /media/ location.
function denied(r) {
    var token = r.variables.cadenza_token;
    var key = r.variables.cadenza_key;
    // nginx matched the location against the decoded, dot-segment-resolved URI. Insist the client
    // sent exactly that path: percent-escapes (%2e%2e, %2F, %00) and dot segments never reach the
    // signature check or the origin, and the key signed is byte for byte the key requested.
    var raw = r.variables.request_uri;
    var query = raw.indexOf('?');
    if (query >= 0) {
        raw = raw.substring(0, query);
    }
    if (raw !== '/media/' + token + '/' + key) {
        return 'invalid object key';
    }
    var k = KEY.exec(key);
    if (key.length > MAX_KEY || !k || k[0] !== key) {
        return 'invalid object key';
    }
    var keys = keyring(r);
    if (keys === null) {
        return 'edge misconfigured';
    }
    var ip = r.variables.cadenza_bind_ip === '1' ? r.variables.remote_addr : '';
    return verify(keys, token, key, ip, Date.now() / 1000);
}

export default { denied: denied, verify: verify };
