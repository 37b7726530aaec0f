import NIOCore

/// A run in progress: its connections, what is due and what waits. Confined to one event loop, so
/// the per-request path takes no lock and starts no task. The clock starts once every connection
/// is open, so connection set-up is not counted as the server's latency.
final class LoadRun {
    /// When the measured part began, and its recorder.
    private struct Clock {
        let start: ContinuousClock.Instant
        let startDeadline: NIODeadline
        let end: ContinuousClock.Instant
        let recorder: LoadRecorder
    }

    private let loop: EventLoop
    private let host: String
    private let port: Int
    private let mode: HTTPLoadRunner.Mode
    private let scenario: LoadScenario
    private let duration: Duration
    private let limit: Int
    private let requestTimeout: TimeAmount
    private let finished: EventLoopPromise<(LoadRecorder, Duration)>

    private var clock: Clock?
    /// First connections still opening; the clock starts when none are.
    private var opening = 0

    private var nextSequence = 0
    /// Nothing more will be planned: the duration or the request count is used up.
    private var planned = false
    /// The request timeout after the end passed; what is still open is closed and counted as timed out.
    private var timedOut = false
    private var done = false
    private var timeout: Scheduled<Void>?
    /// Connections opening or open.
    private var open = 0
    private var connected: [LoadConnection] = []
    private var idle: [LoadConnection] = []
    /// Requests sent and not yet answered.
    private var inFlight = 0
    /// Open loop: requests that are due while every connection is busy, oldest first.
    private var backlog: [LoadConnection.Exchange] = []
    private var backlogHead = 0

    init(
        loop: EventLoop, host: String, port: Int, mode: HTTPLoadRunner.Mode, scenario: LoadScenario, duration: Duration, limit: Int,
        requestTimeout: TimeAmount, finished: EventLoopPromise<(LoadRecorder, Duration)>
    ) {
        self.loop = loop
        self.host = host
        self.port = port
        self.mode = mode
        self.scenario = scenario
        self.duration = duration
        self.limit = limit
        self.requestTimeout = requestTimeout
        self.finished = finished
    }

    /// Opens the connections; once all are open the clock starts. Fails the run if the server
    /// cannot be reached at all.
    func begin() {
        loop.preconditionInEventLoop()
        opening = mode.connections
        for _ in 0..<mode.connections { connect(initial: true) }
    }

    /// Starts measuring: the open loop's schedule, or the closed loop's first requests.
    private func startClock() {
        let start = ContinuousClock.now
        let clock = Clock(start: start, startDeadline: .now(), end: start + duration, recorder: LoadRecorder(start: start))
        self.clock = clock
        let run = NIOLoopBound(self, eventLoop: loop)
        timeout = loop.scheduleTask(deadline: deadline(of: clock.end) + requestTimeout) { run.value.stopWaiting() }
        switch mode {
        case .open:
            planDue()
        case .closed:
            let waiting = idle
            idle.removeAll()
            waiting.forEach(ready)
        }
    }

    private func connect(initial: Bool) {
        open += 1
        let run = NIOLoopBound(self, eventLoop: loop)
        let host = self.host
        LoadConnection.connect(host: host, port: port, on: loop, timeout: .seconds(5)) {
            LoadConnection(
                host: host, answered: { run.value.answered($0, $1, $2) }, closed: { run.value.closed($0) })
        }.assumeIsolated().whenComplete { result in
            let run = run.value
            switch result {
            case .success(let channel):
                // The handler is the pipeline's last; hand its connection its first request.
                channel.pipeline.handler(type: LoadConnection.self).assumeIsolated().whenComplete { lookup in
                    // A channel already closed again has no handler; `closed` replaced it.
                    if case .success(let connection) = lookup {
                        run.connected.append(connection)
                        run.ready(connection)
                    }
                    if initial {
                        run.opening -= 1
                        if run.opening == 0, !run.done { run.startClock() }
                    }
                }
            case .failure(let error):
                run.open -= 1
                if initial {
                    run.abandon(error)
                } else {
                    run.finishIfDone()
                }
            }
        }
    }

    /// A connection with nothing in flight: give it the next request, park it, or close it.
    private func ready(_ connection: LoadConnection) {
        guard clock != nil else {
            idle.append(connection)
            return
        }
        if let exchange = next() {
            send(exchange, on: connection)
        } else {
            idle.append(connection)
            closeWhenDrained()
        }
    }

    private func send(_ exchange: LoadConnection.Exchange, on connection: LoadConnection) {
        inFlight += 1
        connection.send(exchange)
    }

    /// Once nothing more will be sent and every request has its answer, the connections close,
    /// all together: closing each as it goes idle would have the server tear down thousands of
    /// connections while the last measured requests wait behind that work.
    private func closeWhenDrained() {
        guard planned || timedOut, inFlight == 0 else { return }
        idle.removeAll()
        connected.forEach { $0.close() }
    }

    private func next() -> LoadConnection.Exchange? {
        switch mode {
        case .closed:
            let now = ContinuousClock.now
            guard let clock, !planned, now < clock.end, nextSequence < limit else {
                planned = true
                return nil
            }
            defer { nextSequence += 1 }
            return .init(request: scenario.request(nextSequence), intendedAt: now)
        case .open:
            guard backlogHead < backlog.count else { return nil }
            defer {
                backlogHead += 1
                if backlogHead == backlog.count {
                    backlog.removeAll(keepingCapacity: true)
                    backlogHead = 0
                }
            }
            return backlog[backlogHead]
        }
    }

    /// Open loop: sends every request whose time has come, then sleeps until the next one's.
    private func planDue() {
        guard case .open(let rate, _) = mode, !timedOut, let clock else { return }
        let interval = Duration.nanoseconds(1_000_000_000 / max(rate, 1))
        let now = ContinuousClock.now
        while nextSequence < limit {
            let intended = clock.start + interval * nextSequence
            if intended >= clock.end { break }
            if intended > now {
                let run = NIOLoopBound(self, eventLoop: loop)
                loop.scheduleTask(deadline: deadline(of: intended)) { run.value.planDue() }
                return
            }
            let exchange = LoadConnection.Exchange(request: scenario.request(nextSequence), intendedAt: intended)
            nextSequence += 1
            if let connection = idle.popLast() {
                send(exchange, on: connection)
            } else {
                backlog.append(exchange)
            }
        }
        planned = true
        closeWhenDrained()
        finishIfDone()
    }

    private func answered(_ connection: LoadConnection, _ exchange: LoadConnection.Exchange, _ answer: LoadConnection.Answer) {
        guard let recorder = clock?.recorder else { return }  // nothing is sent before the clock starts
        inFlight -= 1
        let request = exchange.request
        switch answer {
        case .response(let status, let body):
            var outcome = String(status)
            if status >= 400 || (status == 201 && request.isReservation) {
                if status >= 400, let code = HTTPLoadRunner.field("code", in: body) { outcome += " \(code)" }
                if status == 201, request.isReservation, let id = HTTPLoadRunner.field("reservationId", in: body) {
                    recorder.acknowledge(id)
                    scenario.reserved(id, user: request.user)
                }
            }
            recorder.record(intendedAt: exchange.intendedAt, finishedAt: .now, outcome: outcome, success: status < 400)
            ready(connection)
        case .failed(let reason):
            recorder.record(
                intendedAt: exchange.intendedAt, finishedAt: .now, outcome: "error: \(timedOut ? "timeout" : reason)", success: false)
            closeWhenDrained()
        }
    }

    private func closed(_ connection: LoadConnection) {
        open -= 1
        connected.removeAll { $0 === connection }
        idle.removeAll { $0 === connection }
        // A connection the server dropped mid-run is replaced; its request was counted as an error.
        if !planned, !timedOut { connect(initial: false) }
        finishIfDone()
    }

    /// The request timeout after the end: close what is still open; its requests count as timed out.
    private func stopWaiting() {
        guard !timedOut else { return }
        timedOut = true
        planned = true
        while let exchange = next() {
            clock?.recorder.record(intendedAt: exchange.intendedAt, finishedAt: .now, outcome: "error: timeout", success: false)
        }
        connected.forEach { $0.close() }
        finishIfDone()
    }

    /// The server cannot be reached: the run fails instead of reporting a wall of errors.
    private func abandon(_ error: Error) {
        guard !done else { return }
        done = true
        planned = true
        timedOut = true
        timeout?.cancel()
        connected.forEach { $0.close() }
        finished.fail(error)
    }

    private func finishIfDone() {
        guard open == 0, !done else { return }
        if !planned {
            // Every connection is gone and none could be opened again: what is left cannot be sent.
            planned = true
            while let exchange = next() {
                clock?.recorder.record(intendedAt: exchange.intendedAt, finishedAt: .now, outcome: "error: no connection", success: false)
            }
        }
        done = true
        timeout?.cancel()
        guard let clock else {
            finished.fail(LoadGeneratorError(code: .connectionClosed, detail: "the server closed every connection before the run began"))
            return
        }
        finished.succeed((clock.recorder, ContinuousClock.now - clock.start))
    }

    private func deadline(of instant: ContinuousClock.Instant) -> NIODeadline {
        guard let clock else { preconditionFailure("deadlines exist once the clock started") }
        let offset = (instant - clock.start).components
        return clock.startDeadline + .nanoseconds(offset.seconds * 1_000_000_000 + offset.attoseconds / 1_000_000_000)
    }
}
