/**
 * Signing: the gateway's one webhook signer (`tollgate/plugin`, the same scheme the built-in alert
 * destinations use): `x-tollgate-signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 */
export { SIGNATURE_HEADER, signatureHeader, verifySignature } from "tollgate/plugin";
