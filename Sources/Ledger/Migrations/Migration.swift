import Foundation

/// One numbered SQL file from `migrations/`, e.g. `0001_ledger.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int64
    public let name: String
    public let sql: String

    /// Reads every `NNNN_name.sql` in `directory`, ordered by number. Other files are ignored;
    /// two files with one number are refused.
    public static func load(directory: String) throws -> [Migration] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw MigrationError(code: .unreadable, message: "cannot list migrations in \(directory): \(error.localizedDescription)")
        }
        var migrations = [Migration]()
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int64(stem[..<underscore]), version > 0 else {
                continue
            }
            guard let data = FileManager.default.contents(atPath: directory + "/" + file),
                let sql = String(data: data, encoding: .utf8)
            else {
                throw MigrationError(code: .unreadable, message: "cannot read \(file) as UTF-8")
            }
            if let clash = migrations.first(where: { $0.version == version }) {
                throw MigrationError(code: .duplicateVersion, message: "\(clash.name) and \(file) share number \(version)")
            }
            migrations.append(Migration(version: version, name: file, sql: sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}

public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case unreadable
        case duplicateVersion
        /// An applied file was edited afterwards; its new text was not run.
        case checksumMismatch
    }

    public let code: Code
    public let message: String
    public var isRetriable: Bool { false }
    public var description: String { "migration \(code.rawValue): \(message)" }
}
