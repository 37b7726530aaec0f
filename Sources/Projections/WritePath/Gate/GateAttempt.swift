/// One prepared gate call (`ReservationGate.attempt`), sent by `ReservationGate.reserve(_:onDecision:)`.
public struct GateAttempt: Sendable {
    let call: RedisScriptCall
}
