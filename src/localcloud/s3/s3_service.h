// Amazon S3 on localcloud: the REST/XML API, path-style and virtual-host style
// (BUCKET.localhost), with aws-chunked uploads, multipart uploads, listing, copy, ranges,
// bucket policy and notification configuration (stored; observers turn changes into events).
#pragma once

#include <memory>
#include <string>

#include "localcloud/core/cloud.h"
#include "localcloud/core/s3_observer.h"

namespace localcloud::s3 {

// The S3 service. Thread-safe: the bucket index sits behind one mutex; object bodies are
// immutable shared buffers, so reads copy them outside the lock. Each S3 operation is one
// function (s3_operations.h) behind S3's operation table, routed by the REST-XML adapter
// (localcloud/core/rest_xml.h).
//
// Persistence (with a data dir): write-through. Each object is written to
// DATA_DIR/s3/<bucket>/objects/<sha256(key)>.data with a .meta JSON beside it before the
// request is answered; bucket settings (policy, notification configuration) in
// DATA_DIR/s3/<bucket>/bucket.json. Multipart uploads in progress are kept in memory only.
// The bucket policy is stored and returned, not enforced.
class S3Service : public Service {
 public:
  // `context` must outlive the service.
  explicit S3Service(CloudContext& context);
  ~S3Service() override;

  // Loads buckets and objects from the data dir (no-op without one). Call once before
  // serving. Errors name the unreadable file.
  common::Status Load();
  // Registers an observer of object changes and API calls. Before serving only; the
  // observer must outlive the service.
  void AddObserver(S3Observer* observer);

  std::string_view name() const override { return "s3"; }
  // S3 takes every request no other service took (it goes last in the dispatcher).
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  // Object data (PutObject, UploadPart): the server's limit; XML and other bodies:
  // kMaxApiBodyBytes.
  size_t MaxBodyBytes(const RouteInfo& route, const http::Request& head) const override;
  std::string NewRequestId() const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace localcloud::s3
