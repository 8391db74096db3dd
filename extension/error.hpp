// C++ exceptions that carry a PostgreSQL-style error (SQLSTATE, message,
// detail, hint). Pure C++: no PostgreSQL headers, so code that only builds
// errors can stay free of them. The entry wrapper (entry.hpp) turns these into
// ereport(ERROR) after the exception has been destroyed.
#pragma once

#include <stdexcept>
#include <string>

namespace schemahost
{

class Error : public std::runtime_error
{
  public:
    // sqlstate is the five-character code, e.g. "53100".
    Error(const char *sqlstate, std::string message)
        : std::runtime_error(std::move(message)), sqlstate_(sqlstate)
    {
    }

    Error &detail(std::string d)
    {
        detail_ = std::move(d);
        return *this;
    }
    Error &hint(std::string h)
    {
        hint_ = std::move(h);
        return *this;
    }

    const std::string &sqlstate() const { return sqlstate_; }
    const std::string &detail() const { return detail_; }
    const std::string &hint() const { return hint_; }

  private:
    std::string sqlstate_;
    std::string detail_;
    std::string hint_;
};

} // namespace schemahost
