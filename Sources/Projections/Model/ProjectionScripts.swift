import Ledger

/// The Lua contract of the read model. Every script receives one product's keys in the order
/// of `ProductKeys.all`; a reservation record is `status|userId|quantity|idempotencyKey` (the
/// key last, so it may contain `|`). Units held by a user and the available stock always include
/// tentatives: the gate counts them at once, the projector confirms or the rollback undoes them.
public enum ProjectionScripts {
    /// Shared helpers, prepended to each script (Lua has no includes in EVALSHA scripts).
    static let prelude = """
        local K_CONFIG, K_USERS, K_RESERVATIONS, K_KEYS, K_TENTATIVES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        local function parse(record)
          local status, user, quantity, key = string.match(record, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
          return status, user, tonumber(quantity), key
        end
        local function record(status, user, quantity, key)
          return status .. '|' .. user .. '|' .. quantity .. '|' .. key
        end
        -- The flag changes only when the stock crosses zero, so it is written only then: once per
        -- reservation it was a fifth of the gate's commands. A listing writes it first.
        local function addAvailable(delta)
          local available = redis.call('HINCRBY', K_CONFIG, 'available', delta)
          if (available <= 0) ~= (available - delta <= 0) then
            redis.call('HSET', K_CONFIG, 'soldOut', available <= 0 and '1' or '0')
          end
        end
        local function addHeld(user, delta)
          if redis.call('HINCRBY', K_USERS, user, delta) == 0 then redis.call('HDEL', K_USERS, user) end
        end

        """

    /// The gate. ARGV: userId, quantity, reservationId, idempotencyKey ('' for none), nowMs.
    /// Checks in the design's order and, only when all pass, takes the units tentatively.
    public static let gate = RedisScript(name: "gate", source: prelude + """
        local user, quantity, reservation, key, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
        if key ~= '' then
          local existing = redis.call('HGET', K_KEYS, user .. ':' .. key)
          if existing then return {'duplicate', existing} end
        end
        local product = redis.call('HMGET', K_CONFIG, 'available', 'limitPerUser', 'startsAtMs', 'endsAtMs')
        if not product[1] or not product[2] then return {'unknownProduct'} end
        if now < tonumber(product[3]) then return {'notStarted'} end
        if now >= tonumber(product[4]) then return {'ended'} end
        if tonumber(product[1]) < quantity then return {'soldOut'} end
        local held = tonumber(redis.call('HGET', K_USERS, user) or '0')
        if held + quantity > tonumber(product[2]) then return {'limitExceeded'} end
        addAvailable(-quantity)
        addHeld(user, quantity)
        redis.call('HSET', K_RESERVATIONS, reservation, record('tentative', user, quantity, key))
        redis.call('ZADD', K_TENTATIVES, now, reservation)
        if key ~= '' then redis.call('HSET', K_KEYS, user .. ':' .. key, reservation) end
        return {'reserved'}
        """)

    /// Undoes a tentative the ledger refused (or that never reached it). ARGV: reservationId.
    /// Idempotent: anything but a tentative, or a missing record, is left alone. Returns 1 when
    /// it gave units back.
    public static let rollback = RedisScript(name: "rollback", source: prelude + """
        local reservation = ARGV[1]
        local current = redis.call('HGET', K_RESERVATIONS, reservation)
        if not current then return 0 end
        local status, user, quantity, key = parse(current)
        if status ~= 'tentative' then return 0 end
        addAvailable(quantity)
        addHeld(user, -quantity)
        redis.call('HDEL', K_RESERVATIONS, reservation)
        redis.call('ZREM', K_TENTATIVES, reservation)
        if key ~= '' and redis.call('HGET', K_KEYS, user .. ':' .. key) == reservation then
          redis.call('HDEL', K_KEYS, user .. ':' .. key)
        end
        return 1
        """)

    /// What the gate's copy holds for attempts in flight, read at one moment, for checking a
    /// refusal against the ledger. ARGV: maxTentatives, userId ('' for none). Returns {applied
    /// position, the oldest tentative's score ('' for none), the number of tentatives listed
    /// (-1: more than maxTentatives, none listed), then for each its reservation id, its units
    /// and '1' when it is the user's ('0' otherwise)}.
    public static let holdings = RedisScript(name: "holdings", source: prelude + """
        local max, asked = tonumber(ARGV[1]), ARGV[2]
        local applied = redis.call('HGET', K_CONFIG, 'applied') or '0'
        local tentatives = redis.call('ZRANGE', K_TENTATIVES, 0, max, 'WITHSCORES')
        local oldest = tentatives[2] or ''
        if #tentatives / 2 > max then return {applied, oldest, '-1'} end
        local reply = {applied, oldest, '0'}
        for k = 1, #tentatives, 2 do
          local current = redis.call('HGET', K_RESERVATIONS, tentatives[k])
          if current then
            local status, user, quantity = parse(current)
            if status == 'tentative' then
              reply[#reply + 1] = tentatives[k]
              reply[#reply + 1] = tostring(quantity)
              reply[#reply + 1] = user == asked and '1' or '0'
            end
          end
        end
        reply[3] = tostring((#reply - 3) / 3)
        return reply
        """)

    /// Applies ledger events of one product, in ledger order (the projector sends a batch's
    /// events of a product in one call). ARGV: for each event the segment of `applyArguments` —
    /// how many values follow, then position, type and the event's fields. An event at or below
    /// the product's `applied` position changes nothing, so redelivery and replays are harmless.
    /// Returns how many events changed Redis.
    public static let apply = RedisScript(name: "apply", source: prelude + """
        local appliedBefore = tonumber(redis.call('HGET', K_CONFIG, 'applied') or '0')
        local applied, changed = appliedBefore, 0
        local i = 1
        while i <= #ARGV do
          local count = tonumber(ARGV[i])
          local E = {}
          for k = 1, count do E[k] = ARGV[i + k] end
          i = i + 1 + count
          local position, kind = tonumber(E[1]), E[2]
          if position > applied then
            if kind == 'ProductListed' then
              redis.call('HSET', K_CONFIG, 'name', E[3], 'priceMinor', E[4], 'currency', E[5],
                'startsAtMs', E[6], 'endsAtMs', E[7], 'limitPerUser', E[8], 'reservationTTLSeconds', E[9],
                'total', E[10], 'soldOut', '1')
              addAvailable(tonumber(E[10]))
            elseif kind == 'StockAdded' then
              redis.call('HINCRBY', K_CONFIG, 'total', E[3])
              addAvailable(tonumber(E[3]))
            elseif kind == 'StockReserved' then
              local reservation, user, quantity, key = E[3], E[4], tonumber(E[5]), E[6]
              local current = redis.call('HGET', K_RESERVATIONS, reservation)
              if not current then
                addAvailable(-quantity)
                addHeld(user, quantity)
                if key ~= '' then redis.call('HSET', K_KEYS, user .. ':' .. key, reservation) end
                redis.call('HSET', K_RESERVATIONS, reservation, record('reserved', user, quantity, key))
              elseif parse(current) == 'tentative' then
                redis.call('HSET', K_RESERVATIONS, reservation, record('reserved', user, quantity, key))
                redis.call('ZREM', K_TENTATIVES, reservation)
              end
            elseif kind == 'ReservationReverted' then
              local reservation, reason = E[3], E[4]
              local current = redis.call('HGET', K_RESERVATIONS, reservation)
              if current then
                local status, user, quantity, key = parse(current)
                if status == 'tentative' or status == 'reserved' then
                  addAvailable(quantity)
                  addHeld(user, -quantity)
                  redis.call('ZREM', K_TENTATIVES, reservation)
                  redis.call('HSET', K_RESERVATIONS, reservation, record(reason, user, quantity, key))
                end
              end
            elseif kind == 'OrderConfirmed' then
              local reservation = E[3]
              local current = redis.call('HGET', K_RESERVATIONS, reservation)
              if current then
                local status, user, quantity, key = parse(current)
                if status == 'reserved' then
                  redis.call('HSET', K_RESERVATIONS, reservation, record('confirmed', user, quantity, key))
                end
              end
            end
            applied, changed = position, changed + 1
          end
        end
        if applied ~= appliedBefore then redis.call('HSET', K_CONFIG, 'applied', applied) end
        return changed
        """)

    /// The `apply` script's ARGV segment for an event at `position`: how many values follow,
    /// then position, type and fields. Segments of one product's events are concatenated.
    public static func applyArguments(_ event: LedgerEvent, position: Int64) -> [RedisArgument] {
        // The count goes first; it is filled in once the fields are known.
        var arguments = [RedisArgument]()
        arguments.reserveCapacity(11)
        arguments.append(0)
        arguments.append(RedisArgument(position))
        arguments.append(RedisArgument(event.type))
        switch event {
        case .productListed(let e):
            arguments += [
                RedisArgument(e.name), RedisArgument(e.priceMinor), RedisArgument(e.currency),
                RedisArgument(e.startsAt.epochMs), RedisArgument(e.endsAt.epochMs), RedisArgument(e.limitPerUser),
                RedisArgument(e.reservationTTLSeconds), RedisArgument(e.stock),
            ]
        case .stockAdded(let e):
            arguments.append(RedisArgument(e.quantity))
        case .stockReserved(let e):
            arguments += [RedisArgument(e.reservationId.text), RedisArgument(e.userId), RedisArgument(e.quantity), RedisArgument(e.idempotencyKey ?? "")]
        case .reservationReverted(let e):
            arguments += [RedisArgument(e.reservationId.text), RedisArgument(e.reason.rawValue)]
        case .orderConfirmed(let e):
            arguments.append(RedisArgument(e.reservationId.text))
        }
        arguments[0] = RedisArgument(arguments.count - 1)
        return arguments
    }
}
