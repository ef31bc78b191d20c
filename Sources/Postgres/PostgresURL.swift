import Foundation
import KilnDomain
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require` as a client
/// configuration. Errors name the part at fault and never repeat the password.
struct PostgresURL {
    let host: String
    let port: Int
    let username: String
    let password: String?
    let database: String
    let sslMode: String

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case "disable": .disable
            case "require", "verify-ca", "verify-full": .require(.makeClientConfiguration())
            default: .prefer(.makeClientConfiguration())
            }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch sslMode {
            case "disable": .disable
            case "require", "verify-ca", "verify-full": .require(try! .init(configuration: .makeClientConfiguration()))
            default: .prefer(try! .init(configuration: .makeClientConfiguration()))
            }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    init(_ url: String) throws(KilnError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw KilnError(.invalidArgument, "--database: not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else {
            throw KilnError(.invalidArgument, "--database: the PostgreSQL URL has no host")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw KilnError(.invalidArgument, "--database: the PostgreSQL URL names no database (postgres://user@host:5432/DATABASE)")
        }
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
            throw KilnError(.invalidArgument, "--database: unknown sslmode \"\(mode.prefix(20))\"; use disable, prefer or require")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user ?? "postgres"
        self.password = components.password?.removingPercentEncoding
        self.database = database
        self.sslMode = mode
    }
}
