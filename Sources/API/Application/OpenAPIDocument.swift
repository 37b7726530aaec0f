/// The OpenAPI 3.1 description of every route, served at `/openapi.yaml`. Kept in code so the
/// binary serves it wherever it is installed; schemathesis checks the live server against it.
enum OpenAPIDocument {
    static let yaml = """
        openapi: 3.1.0
        info:
          title: seckill ledger
          version: 1.0.0
          description: >-
            Flash-sale order ledger. Reservations are acknowledged (201) only after the PostgreSQL
            ledger committed them. Errors are application/problem+json with a machine-readable code.
        servers:
          - url: /
        security:
          - bearer: []
        paths:
          /health:
            get:
              operationId: health
              security: []
              responses:
                '200': {description: The process answers, content: {application/json: {schema: {$ref: '#/components/schemas/Status'}}}}
          /ready:
            get:
              operationId: ready
              security: []
              responses:
                '200': {description: PostgreSQL, Redis and Kafka answer, content: {application/json: {schema: {$ref: '#/components/schemas/Status'}}}}
                '503': {$ref: '#/components/responses/Unavailable'}
          /metrics:
            get:
              operationId: metrics
              security: []
              description: >-
                What the process measured, in the Prometheus text format: requests by route and status,
                the writer's batches, the Redis gate's pipelines, how far the relay and the projector trail.
              responses:
                '200': {description: Every metric the process recorded, content: {text/plain: {schema: {type: string}}}}
          /openapi.yaml:
            get:
              operationId: openapi
              security: []
              responses:
                '200': {description: This document, content: {application/yaml: {schema: {type: string}}}}
          /v1/products:
            post:
              operationId: listProduct
              description: Admin. Lists a sale. The same listing again answers 200; a different one for the id 409.
              requestBody:
                required: true
                content: {application/json: {schema: {$ref: '#/components/schemas/ProductListing'}}}
              responses:
                '201': {description: Listed, content: {application/json: {schema: {$ref: '#/components/schemas/Product'}}}}
                '200': {description: Already listed exactly so, content: {application/json: {schema: {$ref: '#/components/schemas/Product'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '409': {$ref: '#/components/responses/Problem'}
                '413': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/products/{id}:
            get:
              operationId: product
              security: []
              parameters: [{$ref: '#/components/parameters/ProductId'}]
              responses:
                '200': {description: The product with live availability, content: {application/json: {schema: {$ref: '#/components/schemas/Product'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/products/{id}/stock:
            post:
              operationId: addStock
              description: Admin. Adds units to a sale.
              parameters: [{$ref: '#/components/parameters/ProductId'}]
              requestBody:
                required: true
                content: {application/json: {schema: {$ref: '#/components/schemas/Stock'}}}
              responses:
                '200': {description: Stock added, content: {application/json: {schema: {$ref: '#/components/schemas/Product'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '413': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/seckill:
            post:
              operationId: reserve
              description: >-
                Reserves units for the caller. A retried Idempotency-Key answers with the same reservation; the same
                key with another product or quantity is 422 idempotency-key-reused.
              parameters:
                - name: Idempotency-Key
                  in: header
                  required: false
                  schema: {type: string, minLength: 1, maxLength: 64, pattern: '^[!-~]+$'}
                - {$ref: '#/components/parameters/RequestId'}
              requestBody:
                required: true
                content: {application/json: {schema: {$ref: '#/components/schemas/SeckillRequest'}}}
              responses:
                '201': {description: Reserved and committed to the ledger, content: {application/json: {schema: {$ref: '#/components/schemas/Reservation'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '409': {$ref: '#/components/responses/Problem'}
                '413': {$ref: '#/components/responses/Problem'}
                '422': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/reservations/{id}:
            get:
              operationId: reservation
              description: The owner's (or, for an admin, anyone's) reservation; another user's answers 404.
              parameters: [{$ref: '#/components/parameters/ReservationId'}]
              responses:
                '200': {description: The reservation, content: {application/json: {schema: {$ref: '#/components/schemas/Reservation'}}}}
                '401': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/reservations/{id}/confirm:
            post:
              operationId: confirm
              parameters: [{$ref: '#/components/parameters/ReservationId'}]
              requestBody:
                required: true
                content: {application/json: {schema: {$ref: '#/components/schemas/Confirm'}}}
              responses:
                '200': {description: Confirmed, content: {application/json: {schema: {$ref: '#/components/schemas/Ended'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '409': {$ref: '#/components/responses/Problem'}
                '413': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/reservations/{id}/cancel:
            post:
              operationId: cancel
              parameters: [{$ref: '#/components/parameters/ReservationId'}]
              responses:
                '200': {description: Cancelled, content: {application/json: {schema: {$ref: '#/components/schemas/Ended'}}}}
                '401': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '409': {$ref: '#/components/responses/Problem'}
                '429': {$ref: '#/components/responses/RateLimited'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/users/me/reservations:
            get:
              operationId: myReservations
              parameters: [{$ref: '#/components/parameters/After'}, {$ref: '#/components/parameters/Limit'}]
              responses:
                '200': {description: A page of the caller's reservations, oldest first, content: {application/json: {schema: {$ref: '#/components/schemas/ReservationPage'}}}}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/audit/reservations/{id}/events:
            get:
              operationId: reservationEvents
              description: Admin. The reservation's event history.
              parameters: [{$ref: '#/components/parameters/ReservationId'}, {$ref: '#/components/parameters/After'}, {$ref: '#/components/parameters/Limit'}]
              responses:
                '200': {$ref: '#/components/responses/EventPage'}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '404': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/audit/products/{id}/events:
            get:
              operationId: productEvents
              description: Admin. Every event of a product (its listing, stock and reservations).
              parameters: [{$ref: '#/components/parameters/ProductId'}, {$ref: '#/components/parameters/After'}, {$ref: '#/components/parameters/Limit'}]
              responses:
                '200': {$ref: '#/components/responses/EventPage'}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/audit/users/{id}/events:
            get:
              operationId: userEvents
              description: Admin. Every event of a user's reservations.
              parameters:
                - {name: id, in: path, required: true, schema: {type: integer, format: int64, minimum: 1}}
                - {$ref: '#/components/parameters/After'}
                - {$ref: '#/components/parameters/Limit'}
              responses:
                '200': {$ref: '#/components/responses/EventPage'}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
          /v1/events:
            get:
              operationId: events
              description: Admin. The global event feed in ledger order; pass `next` as `after`.
              parameters: [{$ref: '#/components/parameters/After'}, {$ref: '#/components/parameters/Limit'}]
              responses:
                '200': {$ref: '#/components/responses/EventPage'}
                '400': {$ref: '#/components/responses/Problem'}
                '401': {$ref: '#/components/responses/Problem'}
                '403': {$ref: '#/components/responses/Problem'}
                '503': {$ref: '#/components/responses/Unavailable'}
        components:
          securitySchemes:
            bearer: {type: http, scheme: bearer, bearerFormat: JWT, description: 'HS256; a header over 2 KiB is refused (401); iss and aud are checked when configured'}
          parameters:
            ProductId: {name: id, in: path, required: true, schema: {type: integer, format: int64, minimum: 1}}
            ReservationId: {name: id, in: path, required: true, schema: {type: string, format: uuid}}
            After: {name: after, in: query, required: false, schema: {type: integer, format: int64, minimum: 0}}
            Limit: {name: limit, in: query, required: false, schema: {type: integer, minimum: 1, maximum: 1000}}
            RequestId:
              name: X-Request-ID
              in: header
              required: false
              description: Stored in the events' metadata when it is 1–128 printable ASCII characters; otherwise dropped.
              schema: {type: string}
          headers:
            RetryAfter: {description: Seconds to wait before retrying, schema: {type: integer, minimum: 0}}
          responses:
            Problem:
              description: An error
              content: {application/problem+json: {schema: {$ref: '#/components/schemas/Problem'}}}
            RateLimited:
              description: >-
                A rate limit refused the request (code rate-limited): writes per user (reservations, confirms and
                cancels share one budget), admin writes per admin, reads without a login per client address.
              headers:
                Retry-After: {$ref: '#/components/headers/RetryAfter'}
                RateLimit: {description: 'draft-ietf-httpapi-ratelimit-headers: "policy";r=remaining;t=seconds', schema: {type: string}}
                RateLimit-Policy: {description: 'draft-ietf-httpapi-ratelimit-headers: "policy";q=quota;w=window seconds', schema: {type: string}}
              content: {application/problem+json: {schema: {$ref: '#/components/schemas/Problem'}}}
            Unavailable:
              description: >-
                Nothing was done; retry after Retry-After (with the same Idempotency-Key). Code overloaded: work
                waits longer than the shedding target or a queue is full; unavailable: a dependency does not answer.
              headers:
                Retry-After: {$ref: '#/components/headers/RetryAfter'}
              content: {application/problem+json: {schema: {$ref: '#/components/schemas/Problem'}}}
            EventPage:
              description: A page of events
              content: {application/json: {schema: {$ref: '#/components/schemas/EventPage'}}}
          schemas:
            Status:
              type: object
              required: [status]
              properties: {status: {type: string}}
            Problem:
              type: object
              required: [type, title, status, detail, code]
              properties:
                type: {type: string}
                title: {type: string}
                status: {type: integer}
                detail: {type: string}
                code: {type: string}
            ProductListing:
              type: object
              required: [id, name, priceMinor, currency, stock, startsAt, endsAt, limitPerUser, reservationTTLSeconds]
              properties:
                id: {type: integer, format: int64, minimum: 1}
                name: {type: string, minLength: 1, maxLength: 400, pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$', description: at most 400 bytes of UTF-8, no control characters}
                priceMinor: {type: integer, format: int64, minimum: 0}
                currency: {type: string, pattern: '^[A-Z]{3}$'}
                stock: {type: integer, format: int64, minimum: 0, maximum: 1000000000}
                startsAt: {type: string, format: date-time}
                endsAt: {type: string, format: date-time, description: after startsAt}
                limitPerUser: {type: integer, format: int64, minimum: 1, maximum: 1000}
                reservationTTLSeconds: {type: integer, format: int64, minimum: 1, maximum: 86400}
            Product:
              type: object
              required: [id, name, priceMinor, currency, stock, startsAt, endsAt, limitPerUser, reservationTTLSeconds, available, state]
              properties:
                id: {type: integer, format: int64}
                name: {type: string}
                priceMinor: {type: integer, format: int64}
                currency: {type: string}
                stock: {type: integer, format: int64}
                startsAt: {type: string, format: date-time}
                endsAt: {type: string, format: date-time}
                limitPerUser: {type: integer, format: int64}
                reservationTTLSeconds: {type: integer, format: int64}
                available: {type: integer, format: int64, minimum: 0}
                state: {type: string, enum: [upcoming, open, sold-out, ended]}
            Stock:
              type: object
              required: [quantity]
              properties: {quantity: {type: integer, format: int64, minimum: 1, maximum: 1000000000}}
            SeckillRequest:
              type: object
              required: [productId, quantity]
              properties:
                productId: {type: integer, format: int64, minimum: 1}
                quantity: {type: integer, format: int64, minimum: 1, maximum: 1000}
            Reservation:
              type: object
              required: [reservationId, productId, userId, quantity, unitPriceMinor, status, expiresAt, position]
              properties:
                reservationId: {type: string, format: uuid}
                productId: {type: integer, format: int64}
                userId: {type: integer, format: int64}
                quantity: {type: integer, format: int64}
                unitPriceMinor: {type: integer, format: int64}
                status: {type: string, enum: [reserved, confirmed, cancelled, expired, paymentFailed, gateRollback]}
                expiresAt: {type: string, format: date-time}
                position: {type: integer, format: int64}
                idempotencyKey: {type: string}
                orderId: {type: string, format: uuid}
                paymentRef: {type: string}
            ReservationPage:
              type: object
              required: [items]
              properties:
                items: {type: array, items: {$ref: '#/components/schemas/Reservation'}}
                next: {type: [integer, 'null'], format: int64}
            Confirm:
              type: object
              required: [paymentRef]
              properties:
                paymentRef: {type: string, minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$', description: at most 128 bytes of UTF-8, no control characters}
            Ended:
              type: object
              required: [reservationId, status]
              properties:
                reservationId: {type: string, format: uuid}
                orderId: {type: string}
                status: {type: string}
            Event:
              type: object
              required: [position, streamId, streamVersion, eventId, type, schemaVersion, data, metadata, recordedAt, productId]
              properties:
                position: {type: integer, format: int64}
                streamId: {type: string}
                streamVersion: {type: integer, format: int64}
                eventId: {type: string, format: uuid}
                type: {type: string}
                schemaVersion: {type: integer}
                data: {type: object}
                metadata: {type: object}
                recordedAt: {type: string, format: date-time}
                productId: {type: integer, format: int64}
                userId: {type: integer, format: int64}
            EventPage:
              type: object
              required: [items]
              properties:
                items: {type: array, items: {$ref: '#/components/schemas/Event'}}
                next: {type: [integer, 'null'], format: int64}

        """
}
