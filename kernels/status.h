// Result-or-error values used at every public boundary of kernels/, inference/, imaging/
// and audio/. Nothing that input can cause aborts, exits or asserts: it becomes an Error
// with a code the caller can branch on and a message a person can read.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace consilium {

enum class ErrorCode {
    InvalidArgument,
    NotFound,
    IoError,
    CorruptFile,
    CorruptModel,
    UnsupportedModel,
    UnsupportedTransferSyntax,
    NoGpu,
    PluginLoadFailed,
    OutOfMemory,
    OutOfDeviceMemory,
    NoAudioDevice,
    AudioDeviceLost,
    Cancelled,
    Internal,
};

// Stable identifier of a code, e.g. "CorruptModel" (used in JSON output and logs).
const char* errorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;  // one line, names the file/device and the problem

    std::string toString() const { return std::string(errorCodeName(code)) + ": " + message; }
};

// A value or an Error. Cheap to move; check ok() before value().
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : m_v(std::move(value)) {}
    Result(Error error) : m_v(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(m_v); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(m_v); }
    const T& value() const& { return std::get<T>(m_v); }
    T&& value() && { return std::get<T>(std::move(m_v)); }
    const Error& error() const { return std::get<Error>(m_v); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

  private:
    std::variant<T, Error> m_v;
};

// Success or an Error, for operations that return nothing.
class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Error error) : m_error(std::move(error)) {}
    static Status success() { return Status(); }

    bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return *m_error; }

  private:
    std::optional<Error> m_error;
};

inline Error makeError(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace consilium
