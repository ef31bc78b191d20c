import Foundation
import KilnDomain

/// Reads `KilnConfiguration` from defaults, a JSON file, then `KILN_*` environment variables.
///
/// Every key is in ``keys`` (the documentation of `config/kiln.json` and the README follows
/// this table). Unknown keys and values of the wrong type are refused with the key named,
/// so a typo never silently falls back to a default. The environment name of a key is
/// `KILN_` + the key in capitals with `.` as `_` (`poller.max_interval_seconds` →
/// `KILN_POLLER_MAX_INTERVAL_SECONDS`). Secrets are not configuration keys: the API key
/// comes from `OPENAI_API_KEY` or `provider.api_key_file` and is never printed.
enum ConfigurationLoader {
    struct Key: Sendable {
        let name: String
        let help: String
        let apply: @Sendable (inout KilnConfiguration, JSONValue) throws -> Void
    }

    static func load(filePath: String?, environment: [String: String]) throws(KilnError) -> KilnConfiguration {
        var configuration = KilnConfiguration()
        var declaredFeatures: JSONValue?
        if let filePath {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: filePath))
            } catch {
                throw KilnError(.invalidConfiguration, "cannot read configuration file \(filePath)")
            }
            let document: JSONValue
            do {
                document = try JSONDecoder().decode(JSONValue.self, from: data)
            } catch {
                throw KilnError(.invalidConfiguration, "configuration file \(filePath) is not valid JSON")
            }
            guard let sections = document.objectValue else {
                throw KilnError(.invalidConfiguration, "configuration file \(filePath) must hold a JSON object")
            }
            for (section, value) in sections.sorted(by: { $0.key < $1.key }) {
                if section == "prices" {
                    try applyPrices(value, to: &configuration)
                    continue
                }
                if section == "features" {
                    declaredFeatures = value  // read last: their policies apply over the final defaults
                    continue
                }
                if section.hasPrefix("_") { continue }  // comments
                guard let entries = value.objectValue else {
                    throw KilnError(.invalidConfiguration, "configuration key \(section) must be an object of settings")
                }
                for (name, value) in entries.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("_") {
                    try apply("\(section).\(name)", value, to: &configuration, from: filePath)
                }
            }
        }
        for key in keys {
            let variable = environmentName(of: key.name)
            if let raw = environment[variable] {
                try apply(key.name, .string(raw), to: &configuration, from: variable)
            }
        }
        do {
            try configuration.validate()
        } catch {
            throw KilnError(.invalidConfiguration, "configuration: \(error.message)")
        }
        if let declaredFeatures {
            configuration.features = try features(declaredFeatures, defaults: configuration.policy, from: filePath ?? "")
        }
        return configuration
    }

    static func environmentName(of key: String) -> String {
        "KILN_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    private static func apply(
        _ name: String, _ value: JSONValue, to configuration: inout KilnConfiguration, from source: String
    ) throws(KilnError) {
        guard let key = keys.first(where: { $0.name == name }) else {
            throw KilnError(
                .invalidConfiguration, "unknown configuration key \(name.prefix(80)) in \(source); see config/kiln.json for the keys")
        }
        do {
            try key.apply(&configuration, value)
        } catch {
            let reason = (error as? KilnError)?.message ?? "is invalid"
            throw KilnError(.invalidConfiguration, "\(name) (from \(source)) \(reason)")
        }
    }

    /// The `features` section: built-in features plus each declared one (``DeclaredFeature``).
    private static func features(_ value: JSONValue, defaults: RunPolicy, from source: String) throws(KilnError) -> FeatureCatalog {
        guard let entries = value.objectValue else {
            throw KilnError(.invalidConfiguration, "features (in \(source)) must be an object of feature name → declaration")
        }
        var declared: [any Feature] = []
        for (name, declaration) in entries.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("_") {
            declared.append(try DeclaredFeature(name: name, declaration: declaration, defaults: defaults))
        }
        return try FeatureCatalog.builtIn.adding(declared)
    }

    private static func applyPrices(_ value: JSONValue, to configuration: inout KilnConfiguration) throws(KilnError) {
        guard let models = value.objectValue else {
            throw KilnError(
                .invalidConfiguration, "prices must be an object of model → {input_per_million_micros, output_per_million_micros}")
        }
        let required: Set<String> = ["input_per_million_micros", "output_per_million_micros"]
        let optional: Set<String> = ["cached_input_per_million_micros", "cache_write_per_million_micros"]
        for (model, entry) in models where !model.hasPrefix("_") {
            guard let object = entry.objectValue, required.isSubset(of: object.keys),
                Set(object.keys).isSubset(of: required.union(optional))
            else {
                throw KilnError(
                    .invalidConfiguration,
                    "prices.\(model.prefix(64)) must be {\"input_per_million_micros\": N, \"output_per_million_micros\": N} with optionally \"cached_input_per_million_micros\" and \"cache_write_per_million_micros\""
                )
            }
            func value(_ key: String) throws(KilnError) -> Int64? {
                guard let raw = object[key] else { return nil }
                return Int64(try Parse.int(raw))
            }
            configuration.prices[model] = ModelPrice(
                inputPerMillionMicros: try value("input_per_million_micros") ?? 0,
                outputPerMillionMicros: try value("output_per_million_micros") ?? 0,
                cachedInputPerMillionMicros: try value("cached_input_per_million_micros"),
                cacheWritePerMillionMicros: try value("cache_write_per_million_micros"))
        }
    }
}

/// Typed reads of one configuration value, from JSON or from an environment string.
enum Parse {
    static func int(_ value: JSONValue) throws(KilnError) -> Int {
        switch value {
        case .number(let number) where number.rounded() == number && abs(number) < 1e15: return Int(number)
        case .string(let text): if let number = Int(text.trimmingCharacters(in: .whitespaces)) { return number }
        default: break
        }
        throw KilnError(.invalidConfiguration, "must be an integer, got \(value.jsonText.prefix(40))")
    }

    static func double(_ value: JSONValue) throws(KilnError) -> Double {
        switch value {
        case .number(let number): return number
        case .string(let text): if let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite { return number }
        default: break
        }
        throw KilnError(.invalidConfiguration, "must be a number, got \(value.jsonText.prefix(40))")
    }

    static func bool(_ value: JSONValue) throws(KilnError) -> Bool {
        switch value {
        case .bool(let flag): return flag
        case .string("true"), .string("1"): return true
        case .string("false"), .string("0"): return false
        default: throw KilnError(.invalidConfiguration, "must be true or false, got \(value.jsonText.prefix(40))")
        }
    }

    static func string(_ value: JSONValue) throws(KilnError) -> String {
        guard let text = value.stringValue else {
            throw KilnError(.invalidConfiguration, "must be a string, got \(value.jsonText.prefix(40))")
        }
        return text
    }

    static func optionalString(_ value: JSONValue) throws(KilnError) -> String? {
        if value == .null || value == .string("") { return nil }
        return try string(value)
    }

    static func choice<T: RawRepresentable & CaseIterable>(_ value: JSONValue, _ type: T.Type) throws(KilnError) -> T
    where T.RawValue == String {
        let text = try string(value)
        guard let choice = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw KilnError(.invalidConfiguration, "must be one of \(names), got \"\(text.prefix(40))\"")
        }
        return choice
    }
}
