#include "localcloud/tls/test_ca.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <memory>

namespace localcloud::tls {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;

Key NewKey() { return Key(EVP_EC_gen("P-256")); }

bool IsIpv4(const std::string& s) {
  int dots = 0;
  for (char c : s) {
    if (c == '.')
      ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dots == 3;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `subject_cn` with `key`, signed by issuer/issuer_key (itself when null).
Cert MakeCert(const std::string& subject_cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
              long serial, const std::vector<std::pair<int, std::string>>& extensions) {
  Cert cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(subject_cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  for (const auto& [nid, value] : extensions) {
    if (!AddExtension(cert.get(), issuer ? issuer : cert.get(), nid, value)) return nullptr;
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

common::Status WritePem(const std::string& path, X509* cert, X509* chain, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return common::NotFound("cannot write " + path);
  bool ok = true;
  if (cert) ok = ok && PEM_write_X509(f, cert) == 1;
  if (chain) ok = ok && PEM_write_X509(f, chain) == 1;
  if (key) ok = ok && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = std::fclose(f) == 0 && ok;
  return ok ? common::Status::Ok() : common::Internal("cannot write PEM to " + path);
}

}  // namespace

std::vector<std::string> TestServerNames(const std::string& region) {
  return {"localhost",
          "127.0.0.1",
          "*." + region + ".amazonaws.com",
          "*.s3." + region + ".amazonaws.com",
          "*.s3.amazonaws.com",
          "s3.amazonaws.com",
          "api.x.com",
          "upload.x.com",
          "api.twitter.com",
          "upload.twitter.com"};
}

common::Result<TestCaFiles> GenerateTestCa(const std::string& dir,
                                           const std::vector<std::string>& names) {
  Key ca_key = NewKey();
  Key server_key = NewKey();
  if (!ca_key || !server_key) return common::Internal("test CA: EC key generation failed");
  Cert ca = MakeCert("localcloud test CA", ca_key.get(), nullptr, nullptr, 1,
                     {{NID_basic_constraints, "critical,CA:TRUE"},
                      {NID_key_usage, "critical,keyCertSign,cRLSign"},
                      {NID_subject_key_identifier, "hash"}});
  if (!ca) return common::Internal("test CA: cannot make the CA certificate");
  std::string san;
  for (const std::string& n : names) {
    san += (san.empty() ? "" : ",") + std::string(IsIpv4(n) ? "IP:" : "DNS:") + n;
  }
  Cert server = MakeCert(names.empty() ? "localhost" : names.front(), server_key.get(), ca.get(),
                         ca_key.get(), 2,
                         {{NID_basic_constraints, "critical,CA:FALSE"},
                          {NID_key_usage, "critical,digitalSignature"},
                          {NID_ext_key_usage, "serverAuth"},
                          {NID_subject_alt_name, san}});
  if (!server) return common::Internal("test CA: cannot make the server certificate");
  TestCaFiles files{dir + "/ca.pem", dir + "/server.pem", dir + "/server-key.pem"};
  DAT_RETURN_IF_ERROR(WritePem(files.ca_cert, ca.get(), nullptr, nullptr));
  DAT_RETURN_IF_ERROR(WritePem(files.server_cert, server.get(), ca.get(), nullptr));
  DAT_RETURN_IF_ERROR(WritePem(files.server_key, nullptr, nullptr, server_key.get()));
  return files;
}

}  // namespace localcloud::tls
