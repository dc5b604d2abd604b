import { generate } from 'selfsigned';

export interface TlsCertificate {
  key: string;
  /** PEM certificate; self-signed, so clients pass it as their `ca` to trust it. */
  cert: string;
}

/** A fresh certificate per run, so no key material lives in the repository. */
export async function generateLocalhostCertificate(): Promise<TlsCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    // EC keys generate in milliseconds; RSA 2048 can take a second on a busy machine.
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
