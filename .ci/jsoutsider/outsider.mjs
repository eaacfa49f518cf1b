// An outsider of another libp2p implementation: js-libp2p with its gossipsub,
// over TCP, Noise and yamux. It dials a p2pchat member, subscribes to a room
// topic it was never admitted to, publishes forged, replayed, flipped and
// oversized envelopes, and reports as JSON on stdout what it saw:
//   node outsider.mjs MEMBER_MULTIADDR TOPIC [REAL_ENVELOPE_HEX]
// It runs until its stdin closes (the Go test closes it when it is done).
import './polyfill.mjs'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { createHash, randomBytes } from 'node:crypto'

const [memberAddr, topic, realHex] = process.argv.slice(2)
if (!memberAddr || !topic) {
  console.error('usage: node outsider.mjs MEMBER_MULTIADDR TOPIC [REAL_ENVELOPE_HEX]')
  process.exit(2)
}

// p2pchat's gossipsub: no libp2p signatures or authors, message id =
// SHA-256(data)[:20].
const msgId = (msg) => createHash('sha256').update(msg.data).digest().subarray(0, 20)

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', msgIdFn: msgId, allowPublishToZeroTopicPeers: true, emitSelf: false })
  }
})

const report = { peerId: node.peerId.toString(), connected: false, memberSubscribed: false, received: 0, published: 0, publishErrors: 0 }
node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic === topic) report.received++
})
node.services.pubsub.subscribe(topic)

const ma = multiaddr(memberAddr)
await node.dial(ma)
report.connected = true
const member = ma.getPeerId()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
for (let i = 0; i < 100 && !report.memberSubscribed; i++) {
  report.memberSubscribed = node.services.pubsub.getSubscribers(topic).some((p) => p.toString() === member)
  if (!report.memberSubscribed) await sleep(50)
}

// The attacks: garbage, an old version byte, a v3 header with a random
// MAC, truncations, oversized payloads, and (given a real envelope) replays
// and single-bit flips of it.
const attacks = [randomBytes(300), Buffer.from([2]), Buffer.from([3]), Buffer.concat([Buffer.from([3]), randomBytes(400)]), randomBytes(60 * 1024), randomBytes(200 * 1024)]
if (realHex) {
  const real = Buffer.from(realHex, 'hex')
  attacks.push(real, real, real.subarray(0, real.length - 1))
  for (const i of [0, 5, 20, 40, 56, 60, 90, 100, real.length - 1]) {
    const alt = Buffer.from(real)
    alt[i % real.length] ^= 0x40
    attacks.push(alt)
  }
}
for (let round = 0; round < 10; round++) {
  for (const a of attacks) {
    // Make every copy unique (a different message id) but one: replays.
    const data = round === 0 || a.length < 2 ? a : Buffer.concat([a, Buffer.from([round])])
    try {
      await node.services.pubsub.publish(topic, data)
      report.published++
    } catch (e) {
      report.publishErrors++
    }
  }
  await sleep(20)
}
console.log(JSON.stringify({ ready: true, ...report }))

// Keep listening until the test is done, then report what arrived.
process.stdin.resume()
process.stdin.on('end', async () => {
  report.memberSubscribed ||= node.services.pubsub.getSubscribers(topic).some((p) => p.toString() === member)
  console.log(JSON.stringify({ final: true, ...report }))
  await node.stop()
  process.exit(0)
})
