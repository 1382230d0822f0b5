// Throw-away SSH key pairs for tests. ssh2's generateKeyPairSync('ed25519') strips leading zero bytes from the
// public key, so about 1 pair in 256 cannot be parsed back (mscdex/ssh2#1513): that made tests fail at random.
// Pairs ssh2 would reject are generated again.
import ssh2 from 'ssh2'

export function ed25519KeyPair(): {private: string; public: string} {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519')
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair
  }
  throw new Error('ssh2 could not generate a parseable ed25519 key pair in 20 attempts')
}
