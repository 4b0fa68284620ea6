import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension HTTPClient {
    /// Runs `transfers` to completion, each ending with an `outcome`: at most
    /// `maxParallelTransfers` at once, retries waiting out their backoff without holding a slot.
    func run(_ transfers: [Transfer], verify: ((Int) -> Bool)?, progress: ((TransferProgress) -> Void)?) {
        batchLock.lock()
        defer { batchLock.unlock() }
        let clock = ContinuousClock()
        var next = 0                                  // the first transfer never started
        var waiting: [Transfer] = []                  // retries, until their `readyAt`
        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        var done = 0
        var lastReport = clock.now

        func finish(_ t: Transfer, _ outcome: Result<Lookup, HTTPError>) {
            t.outcome = outcome
            done += 1
            switch outcome {
            case .success(let lookup):
                recordSuccess()
                if lookup == .notFound { t.discardDestination() }
            case .failure(let e):
                t.discardDestination()
                if e.countsAgainstRemote { recordFailure(e) }
            }
        }

        func start(_ t: Transfer) {
            if let reason = downReason {
                return finish(t, .failure(t.error(.remoteDown, "since: \(reason)")))
            }
            guard RemotePath.isAcceptable(t.path) else {
                return finish(t, .failure(t.error(.invalidURL, "path not accepted")))
            }
            do {
                let easy = try t.beginAttempt(configuration)
                if t.redirects == 0 { t.attempts += 1 }
                active[easy] = t
                curl_multi_add_handle(multi, easy)
            } catch {
                finish(t, .failure(error))
            }
        }

        func retryOrFail(_ t: Transfer, _ e: HTTPError) {
            guard e.isTransient, t.attempts <= configuration.retry.retries, downReason == nil else {
                return finish(t, .failure(e))
            }
            t.readyAt = clock.now + configuration.retry.delay(beforeRetry: t.attempts)
            // A retry starts over from the path itself, with credentials.
            t.url = url(for: t.path)
            t.withCredentials = true
            t.redirects = 0
            waiting.append(t)
        }

        func ended(_ t: Transfer, _ code: CURLcode) {
            switch t.endAttempt(code, configuration) {
            case .done(let lookup):
                if case .found = lookup, t.method == .get, let verify, !verify(t.index) {
                    return retryOrFail(t, t.error(.rejectedBody, "the caller's check failed"))
                }
                finish(t, .success(lookup))
            case .redirect(let location):
                guard t.redirects < 5, let target = Origin(location) else {
                    return finish(t, .failure(t.error(.redirect, t.redirects < 5 ? "to a URL that is not http(s)" : "more than 5 redirects")))
                }
                guard URLComponents(string: location)?.user == nil else {
                    return finish(t, .failure(t.error(.redirect, "to a URL with a user in it")))
                }
                t.redirects += 1
                t.url = location
                // Credentials stay with the remote's origin; a hop elsewhere goes without them,
                // and so does every hop after it (the next one could lead back anywhere).
                t.withCredentials = t.withCredentials && target == origin
                start(t)
            case .failed(let e):
                retryOrFail(t, e)
            }
        }

        /// Ends every transfer in flight or waiting, once the breaker has opened.
        func abandonAll() {
            guard let reason = downReason else { return }
            for (easy, t) in active {
                curl_multi_remove_handle(multi, easy)
                t.endAttempt()
                finish(t, .failure(t.error(.remoteDown, "since: \(reason)")))
            }
            active = [:]
            for t in waiting { finish(t, .failure(t.error(.remoteDown, "since: \(reason)"))) }
            waiting = []
        }

        func report(force: Bool) {
            guard let progress, force || clock.now - lastReport >= .milliseconds(100) else { return }
            lastReport = clock.now
            var bytesDone: Int64 = 0
            var bytesTotal: Int64 = 0
            for t in transfers {
                let (moved, expected) = t.progress
                bytesDone += moved
                bytesTotal += expected ?? moved
            }
            progress(TransferProgress(bytesDone: bytesDone, bytesTotal: bytesTotal,
                                      transfersDone: done, transfersTotal: transfers.count))
        }

        while done < transfers.count {
            let now = clock.now
            while active.count < configuration.maxParallelTransfers {
                if let i = waiting.firstIndex(where: { ($0.readyAt ?? now) <= now }) {
                    start(waiting.remove(at: i))
                } else if next < transfers.count {
                    start(transfers[next])
                    next += 1
                } else {
                    break
                }
            }
            if !active.isEmpty {
                var running: Int32 = 0
                curl_multi_perform(multi, &running)
                var left: Int32 = 0
                while let message = curl_multi_info_read(multi, &left) {
                    guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                          let t = active.removeValue(forKey: easy) else { continue }
                    let code = message.pointee.data.result
                    curl_multi_remove_handle(multi, easy)
                    ended(t, code)
                }
            }
            let checked = clock.now
            for (easy, t) in active where t.hasStalled(now: checked, limit: configuration.stallTimeout) {
                curl_multi_remove_handle(multi, easy)
                active[easy] = nil
                t.endAttempt()
                retryOrFail(t, t.error(.stalled, "nothing moved for \(configuration.stallTimeout)"))
            }
            if downReason != nil { abandonAll() }
            report(force: false)
            guard done < transfers.count else { break }

            // A free slot and a transfer that may start: start it now, never sleep first (small
            // objects over a fast link often all end within one `curl_multi_perform`).
            let startable = next < transfers.count || waiting.contains { ($0.readyAt ?? clock.now) <= clock.now }
            if active.count < configuration.maxParallelTransfers && startable { continue }

            // Sleep until curl has something, a retry is due, or it is time for progress.
            var wait = Duration.milliseconds(100)
            if let soonest = waiting.compactMap(\.readyAt).min() { wait = min(wait, max(soonest - clock.now, .zero)) }
            if !active.isEmpty {
                curl_multi_poll(multi, nil, 0, Int32(wait.milliseconds), nil)
            } else if wait > .zero {
                usleep(useconds_t(wait.milliseconds * 1000))
            }
        }
        report(force: true)
    }

    private func recordSuccess() {
        stateLock.lock()
        defer { stateLock.unlock() }
        consecutiveFailures = 0
        firstOfRun = nil
    }

    private func recordFailure(_ e: HTTPError) {
        stateLock.lock()
        defer { stateLock.unlock() }
        guard down == nil, configuration.circuitBreakerThreshold > 0 else { return }
        consecutiveFailures += 1
        if firstOfRun == nil { firstOfRun = e }
        if consecutiveFailures >= configuration.circuitBreakerThreshold { down = firstOfRun }
    }
}
