// A throwaway certificate authority for tests of the production network path: localcloud
// serves HTTPS under the real AWS and X host names with a certificate this CA signed, and
// the clients trust the CA through AWS_CA_BUNDLE / CURL_CA_BUNDLE. Never for real use.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace localcloud::tls {

struct TestCaFiles {
  std::string ca_cert;      // PEM of the CA (what clients trust)
  std::string server_cert;  // PEM chain: the server certificate, then the CA
  std::string server_key;   // PEM private key of the server certificate
};

// The names localcloud answers for in `region`: localhost, 127.0.0.1, the regional AWS
// endpoints (*.REGION.amazonaws.com, *.s3.REGION.amazonaws.com for virtual-hosted S3) and
// X's API hosts.
std::vector<std::string> TestServerNames(const std::string& region);

// Creates (overwriting) dir/ca.pem, dir/server.pem and dir/server-key.pem: a new EC P-256 CA
// valid for one day and a server certificate it signed for `names` (DNS names, or IPv4
// addresses as subjectAltName IP entries). The directory must exist. Internal naming the
// failing OpenSSL step, or NotFound naming a file that could not be written.
common::Result<TestCaFiles> GenerateTestCa(const std::string& dir,
                                           const std::vector<std::string>& names);

}  // namespace localcloud::tls
