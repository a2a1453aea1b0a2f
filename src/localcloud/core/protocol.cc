#include "localcloud/core/protocol.h"

#include <utility>

namespace localcloud {

OperationTable& OperationTable::Add(std::string name, Operation operation) {
  return AddAsync(std::move(name), [operation = std::move(operation)](
                                       const nlohmann::json& input, const Call& call, Reply reply) {
    reply(operation(input, call));
  });
}

OperationTable& OperationTable::AddAsync(std::string name, AsyncOperation operation) {
  operations_[std::move(name)] = std::move(operation);
  return *this;
}

void OperationTable::GuardAll(
    std::function<std::optional<aws::AwsError>(const nlohmann::json& input, const Call& call)>
        check) {
  for (auto& [name, operation] : operations_) {
    operation = [check, inner = std::move(operation)](const nlohmann::json& input, const Call& call,
                                                      Reply reply) {
      if (auto error = check(input, call)) return reply(std::move(*error));
      inner(input, call, std::move(reply));
    };
  }
}

void OperationTable::Run(std::string_view name, const nlohmann::json& input, const Call& call,
                         Reply reply,
                         const std::function<aws::AwsError(std::string_view name)>& unknown) const {
  auto it = operations_.find(name);
  if (it == operations_.end()) return reply(unknown(name));
  it->second(input, call, std::move(reply));
}

aws::AwsError ServiceError(std::string service, std::string code, std::string message, int status) {
  aws::AwsError error;
  error.service = std::move(service);
  error.code = std::move(code);
  error.message = std::move(message);
  error.http_status = status;
  return error;
}

std::optional<std::string> ScalarMember(const nlohmann::json& input, std::string_view name) {
  if (!input.is_object()) return std::nullopt;
  auto it = input.find(name);
  if (it == input.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace localcloud
