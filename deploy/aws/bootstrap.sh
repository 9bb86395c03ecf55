#!/usr/bin/env bash
# One-time AWS prerequisites of ray_cluster.yaml (run by an administrator with IAM/EC2 rights, not by the cluster):
# the security group, the instance profile glacierscale-ray-node (deploy/aws/node-policy.json), and the Ray
# auth token in Secrets Manager. Then writes ray_cluster.local.yaml with the security group's id.
#   VPC_ID=vpc-... ADMIN_CIDR=198.51.100.7/32 deploy/aws/bootstrap.sh
# ADMIN_CIDR: the only network SSH is admitted from (your VPN/bastion egress address); never 0.0.0.0/0.
set -euo pipefail
: "${VPC_ID:?set VPC_ID}" "${ADMIN_CIDR:?set ADMIN_CIDR (e.g. the bastion address/32)}"
REGION=${REGION:-us-west-2}
here=$(cd "$(dirname "$0")" && pwd)
if [[ "$ADMIN_CIDR" == "0.0.0.0/0" || "$ADMIN_CIDR" == "::/0" ]]; then
  echo "refusing ADMIN_CIDR=$ADMIN_CIDR: SSH must not be open to the internet" >&2; exit 2
fi

sg=$(aws ec2 create-security-group --region "$REGION" --vpc-id "$VPC_ID" --group-name glacierscale-ray \
      --description "glacierscale Ray cluster: intra-cluster traffic, SSH from the admin CIDR" \
      --tag-specifications 'ResourceType=security-group,Tags=[{Key=ray-cluster-name,Value=glacierscale}]' \
      --query GroupId --output text)
# every port between the cluster's own nodes (GCS 6379, raylets, object manager, dashboard agents) ...
aws ec2 authorize-security-group-ingress --region "$REGION" --group-id "$sg" \
  --ip-permissions "IpProtocol=-1,UserIdGroupPairs=[{GroupId=$sg}]"
# ... and SSH from the admin network only; the dashboard is reached through the SSH tunnel
aws ec2 authorize-security-group-ingress --region "$REGION" --group-id "$sg" \
  --ip-permissions "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=$ADMIN_CIDR,Description=admin-ssh}]"

aws iam create-role --role-name glacierscale-ray-node \
  --assume-role-policy-document "file://$here/ec2-trust-policy.json" >/dev/null
aws iam put-role-policy --role-name glacierscale-ray-node --policy-name glacierscale-ray-node \
  --policy-document "file://$here/node-policy.json"
aws iam create-instance-profile --instance-profile-name glacierscale-ray-node >/dev/null
aws iam add-role-to-instance-profile --instance-profile-name glacierscale-ray-node --role-name glacierscale-ray-node

# the token is generated here and goes straight into the secret store; it is never printed or written to disk
aws secretsmanager create-secret --region "$REGION" --name glacierscale/ray-auth-token \
  --secret-string "$(python3 -c 'import secrets; print(secrets.token_hex(32))')" >/dev/null

sed "s/sg-REPLACE-glacierscale-ray/$sg/g" "$here/../../ray_cluster.yaml" > "$here/../../ray_cluster.local.yaml"
echo "security group $sg; wrote ray_cluster.local.yaml (use it with ray up)"
