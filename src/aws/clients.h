// The project's AWS service clients, in one include.
#pragma once

#include "aws/client.h"
#include "aws/cloudtrail_client.h"
#include "aws/eventbridge_client.h"
#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "aws/sts_client.h"
