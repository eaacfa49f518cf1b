// Promise.withResolvers arrived in Node.js 22; some of js-libp2p 2.x's
// dependencies use it. Imported first by outsider.mjs so they run on 20.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
