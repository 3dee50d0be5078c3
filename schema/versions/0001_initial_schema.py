"""Initial schema: the domain tables, the audit log and Asterisk 22's realtime tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 08:51:56.917366
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_key', sa.String(length=255), nullable=True),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_entity'), ['entity'], unique=False)

    op.create_table('carriers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('auth_mode', sa.String(length=16), nullable=False),
    sa.Column('signalling_addresses', sa.Text(), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=True),
    sa.Column('password', sa.String(length=80), nullable=True),
    sa.Column('callerid_format', sa.String(length=8), nullable=False),
    sa.Column('e911_callerid_format', sa.String(length=8), nullable=False),
    sa.Column('dial_format', sa.String(length=8), nullable=False),
    sa.Column('send_pai', sa.Boolean(), nullable=False),
    sa.Column('provides_911', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('max_channels', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.CheckConstraint("auth_mode = 'ip' OR (username IS NOT NULL AND password IS NOT NULL)", name=op.f('ck_carriers_register_credentials')),
    sa.CheckConstraint("auth_mode IN ('ip', 'register')", name=op.f('ck_carriers_auth_mode')),
    sa.CheckConstraint("callerid_format IN ('e164','nanp11','nanp10')", name=op.f('ck_carriers_callerid_format')),
    sa.CheckConstraint("dial_format IN ('e164','nanp11','nanp10')", name=op.f('ck_carriers_dial_format')),
    sa.CheckConstraint("e911_callerid_format IN ('e164','nanp11','nanp10')", name=op.f('ck_carriers_e911_callerid_format')),
    sa.CheckConstraint('max_channels >= 0', name=op.f('ck_carriers_max_channels')),
    sa.CheckConstraint('port BETWEEN 1 AND 65535', name=op.f('ck_carriers_port')),
    sa.CheckConstraint('tier IN (1, 2)', name=op.f('ck_carriers_tier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carriers')),
    sa.UniqueConstraint('name', name=op.f('uq_carriers_name'))
    )
    op.create_table('cdr',
    sa.Column('accountcode', sa.String(length=80), nullable=True),
    sa.Column('src', sa.String(length=80), nullable=True),
    sa.Column('dst', sa.String(length=80), nullable=True),
    sa.Column('dcontext', sa.String(length=80), nullable=True),
    sa.Column('clid', sa.String(length=80), nullable=True),
    sa.Column('channel', sa.String(length=80), nullable=True),
    sa.Column('dstchannel', sa.String(length=80), nullable=True),
    sa.Column('lastapp', sa.String(length=80), nullable=True),
    sa.Column('lastdata', sa.String(length=80), nullable=True),
    sa.Column('start', sa.DateTime(), nullable=True),
    sa.Column('answer', sa.DateTime(), nullable=True),
    sa.Column('end', sa.DateTime(), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('billsec', sa.Integer(), nullable=True),
    sa.Column('disposition', sa.String(length=45), nullable=True),
    sa.Column('amaflags', sa.String(length=45), nullable=True),
    sa.Column('userfield', sa.String(length=256), nullable=True),
    sa.Column('uniqueid', sa.String(length=150), nullable=True),
    sa.Column('linkedid', sa.String(length=150), nullable=True),
    sa.Column('peeraccount', sa.String(length=80), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True)
    )
    with op.batch_alter_table('cdr', schema=None) as batch_op:
        batch_op.create_index('ix_cdr_accountcode_start', ['accountcode', 'start'], unique=False)
        batch_op.create_index('ix_cdr_start', ['start'], unique=False)

    op.create_table('extensions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('context', sa.String(length=40), nullable=False),
    sa.Column('exten', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('app', sa.String(length=40), nullable=False),
    sa.Column('appdata', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensions'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index('uq_extensions_context_exten_priority', ['context', 'exten', 'priority'], unique=True)

    op.create_table('nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('public_ip', sa.String(length=45), nullable=False),
    sa.Column('sip_port', sa.Integer(), nullable=False),
    sa.Column('hosting_provider', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('dns_name', sa.String(length=253), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.CheckConstraint("role IN ('carrier', 'client')", name=op.f('ck_nodes_role')),
    sa.CheckConstraint("state IN ('active', 'draining', 'retired')", name=op.f('ck_nodes_state')),
    sa.CheckConstraint('sip_port BETWEEN 1 AND 65535', name=op.f('ck_nodes_sip_port')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sa.UniqueConstraint('dns_name', name=op.f('uq_nodes_dns_name')),
    sa.UniqueConstraint('name', name=op.f('uq_nodes_name')),
    sa.UniqueConstraint('public_ip', name=op.f('uq_nodes_public_ip'))
    )
    op.create_table('ps_aors',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=True),
    sa.Column('default_expiration', sa.Integer(), nullable=True),
    sa.Column('mailboxes', sa.String(length=80), nullable=True),
    sa.Column('max_contacts', sa.Integer(), nullable=True),
    sa.Column('minimum_expiration', sa.Integer(), nullable=True),
    sa.Column('remove_existing', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_aors_remove_existing_values'), nullable=True),
    sa.Column('qualify_frequency', sa.Integer(), nullable=True),
    sa.Column('authenticate_qualify', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_aors_authenticate_qualify_values'), nullable=True),
    sa.Column('maximum_expiration', sa.Integer(), nullable=True),
    sa.Column('outbound_proxy', sa.String(length=255), nullable=True),
    sa.Column('support_path', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_aors_support_path_values'), nullable=True),
    sa.Column('qualify_timeout', sa.Float(), nullable=True),
    sa.Column('voicemail_extension', sa.String(length=40), nullable=True),
    sa.Column('remove_unavailable', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_aors_remove_unavailable_values'), nullable=True),
    sa.Column('qualify_2xx_only', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_aors_qualify_2xx_only_values'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_aors'))
    )
    with op.batch_alter_table('ps_aors', schema=None) as batch_op:
        batch_op.create_index('ix_ps_aors_qualify_frequency', ['qualify_frequency'], unique=False)

    op.create_table('ps_auths',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('auth_type', sa.Enum('md5', 'userpass', 'google_oauth', name='ps_auths_auth_type_values'), nullable=True),
    sa.Column('nonce_lifetime', sa.Integer(), nullable=True),
    sa.Column('md5_cred', sa.String(length=40), nullable=True),
    sa.Column('password', sa.String(length=80), nullable=True),
    sa.Column('realm', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=40), nullable=True),
    sa.Column('refresh_token', sa.String(length=255), nullable=True),
    sa.Column('oauth_clientid', sa.String(length=255), nullable=True),
    sa.Column('oauth_secret', sa.String(length=255), nullable=True),
    sa.Column('password_digest', sa.String(length=1024), nullable=True),
    sa.Column('supported_algorithms_uas', sa.String(length=1024), nullable=True),
    sa.Column('supported_algorithms_uac', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_auths'))
    )
    op.create_table('ps_contacts',
    sa.Column('id', sa.String(length=255), nullable=True),
    sa.Column('uri', sa.String(length=511), nullable=True),
    sa.Column('expiration_time', sa.BigInteger(), nullable=True),
    sa.Column('qualify_frequency', sa.Integer(), nullable=True),
    sa.Column('outbound_proxy', sa.String(length=255), nullable=True),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('qualify_timeout', sa.Float(), nullable=True),
    sa.Column('reg_server', sa.String(length=255), nullable=True),
    sa.Column('authenticate_qualify', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_contacts_authenticate_qualify_values'), nullable=True),
    sa.Column('via_addr', sa.String(length=40), nullable=True),
    sa.Column('via_port', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.String(length=255), nullable=True),
    sa.Column('endpoint', sa.String(length=255), nullable=True),
    sa.Column('prune_on_boot', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_contacts_prune_on_boot_values'), nullable=True),
    sa.Column('qualify_2xx_only', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_contacts_qualify_2xx_only_values'), nullable=True),
    sa.UniqueConstraint('id', name=op.f('uq_ps_contacts_id'))
    )
    with op.batch_alter_table('ps_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_ps_contacts_qualify_frequency', ['qualify_frequency'], unique=False)

    op.create_table('ps_domain_aliases',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_domain_aliases'))
    )
    op.create_table('ps_endpoint_id_ips',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('endpoint', sa.String(length=255), nullable=True),
    sa.Column('match', sa.String(length=80), nullable=True),
    sa.Column('srv_lookups', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoint_id_ips_srv_lookups_values'), nullable=True),
    sa.Column('match_header', sa.String(length=255), nullable=True),
    sa.Column('match_request_uri', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_endpoint_id_ips'))
    )
    with op.batch_alter_table('ps_endpoint_id_ips', schema=None) as batch_op:
        batch_op.create_index('ix_ps_endpoint_id_ips_endpoint', ['endpoint'], unique=False)

    op.create_table('ps_endpoints',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('transport', sa.String(length=40), nullable=True),
    sa.Column('aors', sa.String(length=2048), nullable=True),
    sa.Column('auth', sa.String(length=255), nullable=True),
    sa.Column('context', sa.String(length=40), nullable=True),
    sa.Column('disallow', sa.String(length=200), nullable=True),
    sa.Column('allow', sa.String(length=200), nullable=True),
    sa.Column('direct_media', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_direct_media_values'), nullable=True),
    sa.Column('connected_line_method', sa.Enum('invite', 'reinvite', 'update', name='ps_endpoints_connected_line_method_values'), nullable=True),
    sa.Column('direct_media_method', sa.Enum('invite', 'reinvite', 'update', name='ps_endpoints_direct_media_method_values'), nullable=True),
    sa.Column('direct_media_glare_mitigation', sa.Enum('none', 'outgoing', 'incoming', name='ps_endpoints_direct_media_glare_mitigation_values'), nullable=True),
    sa.Column('disable_direct_media_on_nat', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_disable_direct_media_on_nat_values'), nullable=True),
    sa.Column('dtmf_mode', sa.Enum('rfc4733', 'inband', 'info', 'auto', 'auto_info', name='ps_endpoints_dtmf_mode_values'), nullable=True),
    sa.Column('external_media_address', sa.String(length=40), nullable=True),
    sa.Column('force_rport', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_force_rport_values'), nullable=True),
    sa.Column('ice_support', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_ice_support_values'), nullable=True),
    sa.Column('identify_by', sa.String(length=80), nullable=True),
    sa.Column('mailboxes', sa.String(length=40), nullable=True),
    sa.Column('moh_suggest', sa.String(length=40), nullable=True),
    sa.Column('outbound_auth', sa.String(length=255), nullable=True),
    sa.Column('outbound_proxy', sa.String(length=255), nullable=True),
    sa.Column('rewrite_contact', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_rewrite_contact_values'), nullable=True),
    sa.Column('rtp_ipv6', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_rtp_ipv6_values'), nullable=True),
    sa.Column('rtp_symmetric', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_rtp_symmetric_values'), nullable=True),
    sa.Column('send_diversion', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_diversion_values'), nullable=True),
    sa.Column('send_pai', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_pai_values'), nullable=True),
    sa.Column('send_rpid', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_rpid_values'), nullable=True),
    sa.Column('timers_min_se', sa.Integer(), nullable=True),
    sa.Column('timers', sa.Enum('forced', 'no', 'required', 'yes', name='ps_endpoints_timers_values'), nullable=True),
    sa.Column('timers_sess_expires', sa.Integer(), nullable=True),
    sa.Column('callerid', sa.String(length=40), nullable=True),
    sa.Column('callerid_privacy', sa.Enum('allowed_not_screened', 'allowed_passed_screened', 'allowed_failed_screened', 'allowed', 'prohib_not_screened', 'prohib_passed_screened', 'prohib_failed_screened', 'prohib', 'unavailable', name='ps_endpoints_callerid_privacy_values'), nullable=True),
    sa.Column('callerid_tag', sa.String(length=40), nullable=True),
    sa.Column('100rel', sa.Enum('no', 'required', 'peer_supported', 'yes', name='ps_endpoints_100rel_values'), nullable=True),
    sa.Column('aggregate_mwi', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_aggregate_mwi_values'), nullable=True),
    sa.Column('trust_id_inbound', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_trust_id_inbound_values'), nullable=True),
    sa.Column('trust_id_outbound', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_trust_id_outbound_values'), nullable=True),
    sa.Column('use_ptime', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_use_ptime_values'), nullable=True),
    sa.Column('use_avpf', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_use_avpf_values'), nullable=True),
    sa.Column('media_encryption', sa.Enum('no', 'sdes', 'dtls', name='ps_endpoints_media_encryption_values'), nullable=True),
    sa.Column('inband_progress', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_inband_progress_values'), nullable=True),
    sa.Column('call_group', sa.String(length=40), nullable=True),
    sa.Column('pickup_group', sa.String(length=40), nullable=True),
    sa.Column('named_call_group', sa.String(length=40), nullable=True),
    sa.Column('named_pickup_group', sa.String(length=40), nullable=True),
    sa.Column('device_state_busy_at', sa.Integer(), nullable=True),
    sa.Column('fax_detect', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_fax_detect_values'), nullable=True),
    sa.Column('t38_udptl', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_t38_udptl_values'), nullable=True),
    sa.Column('t38_udptl_ec', sa.Enum('none', 'fec', 'redundancy', name='ps_endpoints_t38_udptl_ec_values'), nullable=True),
    sa.Column('t38_udptl_maxdatagram', sa.Integer(), nullable=True),
    sa.Column('t38_udptl_nat', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_t38_udptl_nat_values'), nullable=True),
    sa.Column('t38_udptl_ipv6', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_t38_udptl_ipv6_values'), nullable=True),
    sa.Column('tone_zone', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=40), nullable=True),
    sa.Column('one_touch_recording', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_one_touch_recording_values'), nullable=True),
    sa.Column('record_on_feature', sa.String(length=40), nullable=True),
    sa.Column('record_off_feature', sa.String(length=40), nullable=True),
    sa.Column('rtp_engine', sa.String(length=40), nullable=True),
    sa.Column('allow_transfer', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_allow_transfer_values'), nullable=True),
    sa.Column('allow_subscribe', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_allow_subscribe_values'), nullable=True),
    sa.Column('sdp_owner', sa.String(length=40), nullable=True),
    sa.Column('sdp_session', sa.String(length=40), nullable=True),
    sa.Column('tos_audio', sa.String(length=10), nullable=True),
    sa.Column('tos_video', sa.String(length=10), nullable=True),
    sa.Column('sub_min_expiry', sa.Integer(), nullable=True),
    sa.Column('from_domain', sa.String(length=40), nullable=True),
    sa.Column('from_user', sa.String(length=40), nullable=True),
    sa.Column('mwi_from_user', sa.String(length=40), nullable=True),
    sa.Column('dtls_verify', sa.String(length=40), nullable=True),
    sa.Column('dtls_rekey', sa.String(length=40), nullable=True),
    sa.Column('dtls_cert_file', sa.String(length=200), nullable=True),
    sa.Column('dtls_private_key', sa.String(length=200), nullable=True),
    sa.Column('dtls_cipher', sa.String(length=200), nullable=True),
    sa.Column('dtls_ca_file', sa.String(length=200), nullable=True),
    sa.Column('dtls_ca_path', sa.String(length=200), nullable=True),
    sa.Column('dtls_setup', sa.Enum('active', 'passive', 'actpass', name='ps_endpoints_dtls_setup_values'), nullable=True),
    sa.Column('srtp_tag_32', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_srtp_tag_32_values'), nullable=True),
    sa.Column('media_address', sa.String(length=40), nullable=True),
    sa.Column('redirect_method', sa.Enum('user', 'uri_core', 'uri_pjsip', name='ps_endpoints_redirect_method_values'), nullable=True),
    sa.Column('set_var', sa.Text(), nullable=True),
    sa.Column('cos_audio', sa.Integer(), nullable=True),
    sa.Column('cos_video', sa.Integer(), nullable=True),
    sa.Column('message_context', sa.String(length=40), nullable=True),
    sa.Column('force_avp', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_force_avp_values'), nullable=True),
    sa.Column('media_use_received_transport', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_media_use_received_transport_values'), nullable=True),
    sa.Column('accountcode', sa.String(length=80), nullable=True),
    sa.Column('user_eq_phone', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_user_eq_phone_values'), nullable=True),
    sa.Column('moh_passthrough', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_moh_passthrough_values'), nullable=True),
    sa.Column('media_encryption_optimistic', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_media_encryption_optimistic_values'), nullable=True),
    sa.Column('rpid_immediate', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_rpid_immediate_values'), nullable=True),
    sa.Column('g726_non_standard', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_g726_non_standard_values'), nullable=True),
    sa.Column('rtp_keepalive', sa.Integer(), nullable=True),
    sa.Column('rtp_timeout', sa.Integer(), nullable=True),
    sa.Column('rtp_timeout_hold', sa.Integer(), nullable=True),
    sa.Column('bind_rtp_to_media_address', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_bind_rtp_to_media_address_values'), nullable=True),
    sa.Column('voicemail_extension', sa.String(length=40), nullable=True),
    sa.Column('mwi_subscribe_replaces_unsolicited', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_mwi_subscribe_replaces_unsolicited_values'), nullable=True),
    sa.Column('deny', sa.String(length=95), nullable=True),
    sa.Column('permit', sa.String(length=95), nullable=True),
    sa.Column('acl', sa.String(length=40), nullable=True),
    sa.Column('contact_deny', sa.String(length=95), nullable=True),
    sa.Column('contact_permit', sa.String(length=95), nullable=True),
    sa.Column('contact_acl', sa.String(length=40), nullable=True),
    sa.Column('subscribe_context', sa.String(length=40), nullable=True),
    sa.Column('fax_detect_timeout', sa.Integer(), nullable=True),
    sa.Column('contact_user', sa.String(length=80), nullable=True),
    sa.Column('preferred_codec_only', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_preferred_codec_only_values'), nullable=True),
    sa.Column('asymmetric_rtp_codec', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_asymmetric_rtp_codec_values'), nullable=True),
    sa.Column('rtcp_mux', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_rtcp_mux_values'), nullable=True),
    sa.Column('allow_overlap', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_allow_overlap_values'), nullable=True),
    sa.Column('refer_blind_progress', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_refer_blind_progress_values'), nullable=True),
    sa.Column('notify_early_inuse_ringing', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_notify_early_inuse_ringing_values'), nullable=True),
    sa.Column('max_audio_streams', sa.Integer(), nullable=True),
    sa.Column('max_video_streams', sa.Integer(), nullable=True),
    sa.Column('webrtc', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_webrtc_values'), nullable=True),
    sa.Column('dtls_fingerprint', sa.Enum('SHA-1', 'SHA-256', name='ps_endpoints_dtls_fingerprint_values'), nullable=True),
    sa.Column('incoming_mwi_mailbox', sa.String(length=40), nullable=True),
    sa.Column('bundle', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_bundle_values'), nullable=True),
    sa.Column('dtls_auto_generate_cert', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_dtls_auto_generate_cert_values'), nullable=True),
    sa.Column('follow_early_media_fork', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_follow_early_media_fork_values'), nullable=True),
    sa.Column('accept_multiple_sdp_answers', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_accept_multiple_sdp_answers_values'), nullable=True),
    sa.Column('suppress_q850_reason_headers', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_suppress_q850_reason_headers_values'), nullable=True),
    sa.Column('trust_connected_line', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_trust_connected_line_values'), nullable=True),
    sa.Column('send_connected_line', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_connected_line_values'), nullable=True),
    sa.Column('ignore_183_without_sdp', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_ignore_183_without_sdp_values'), nullable=True),
    sa.Column('codec_prefs_incoming_offer', sa.String(length=128), nullable=True),
    sa.Column('codec_prefs_outgoing_offer', sa.String(length=128), nullable=True),
    sa.Column('codec_prefs_incoming_answer', sa.String(length=128), nullable=True),
    sa.Column('codec_prefs_outgoing_answer', sa.String(length=128), nullable=True),
    sa.Column('stir_shaken', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_stir_shaken_values'), nullable=True),
    sa.Column('send_history_info', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_history_info_values'), nullable=True),
    sa.Column('allow_unauthenticated_options', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_allow_unauthenticated_options_values'), nullable=True),
    sa.Column('t38_bind_udptl_to_media_address', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_t38_bind_udptl_to_media_address_values'), nullable=True),
    sa.Column('geoloc_incoming_call_profile', sa.String(length=80), nullable=True),
    sa.Column('geoloc_outgoing_call_profile', sa.String(length=80), nullable=True),
    sa.Column('incoming_call_offer_pref', sa.Enum('local', 'local_first', 'remote', 'remote_first', name='ps_endpoints_incoming_call_offer_pref_values'), nullable=True),
    sa.Column('outgoing_call_offer_pref', sa.Enum('local', 'local_merge', 'local_first', 'remote', 'remote_merge', 'remote_first', name='ps_endpoints_outgoing_call_offer_pref_values'), nullable=True),
    sa.Column('stir_shaken_profile', sa.String(length=80), nullable=True),
    sa.Column('security_negotiation', sa.Enum('no', 'mediasec', name='ps_endpoints_security_negotiation_values'), nullable=True),
    sa.Column('security_mechanisms', sa.String(length=512), nullable=True),
    sa.Column('send_aoc', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_send_aoc_values'), nullable=True),
    sa.Column('overlap_context', sa.String(length=80), nullable=True),
    sa.Column('tenantid', sa.String(length=80), nullable=True),
    sa.Column('suppress_moh_on_sendonly', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_endpoints_suppress_moh_on_sendonly_values'), nullable=True),
    sa.Column('follow_redirect_methods', sa.String(length=95), nullable=True),
    sa.Column('rtp_port_start', sa.Integer(), nullable=True),
    sa.Column('rtp_port_end', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_endpoints'))
    )
    op.create_table('ps_registrations',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('auth_rejection_permanent', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_registrations_auth_rejection_permanent_values'), nullable=True),
    sa.Column('client_uri', sa.String(length=255), nullable=True),
    sa.Column('contact_user', sa.String(length=40), nullable=True),
    sa.Column('expiration', sa.Integer(), nullable=True),
    sa.Column('max_retries', sa.Integer(), nullable=True),
    sa.Column('outbound_auth', sa.String(length=255), nullable=True),
    sa.Column('outbound_proxy', sa.String(length=255), nullable=True),
    sa.Column('retry_interval', sa.Integer(), nullable=True),
    sa.Column('forbidden_retry_interval', sa.Integer(), nullable=True),
    sa.Column('server_uri', sa.String(length=255), nullable=True),
    sa.Column('transport', sa.String(length=40), nullable=True),
    sa.Column('support_path', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_registrations_support_path_values'), nullable=True),
    sa.Column('fatal_retry_interval', sa.Integer(), nullable=True),
    sa.Column('line', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_registrations_line_values'), nullable=True),
    sa.Column('endpoint', sa.String(length=255), nullable=True),
    sa.Column('support_outbound', sa.Enum('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes', name='ps_registrations_support_outbound_values'), nullable=True),
    sa.Column('contact_header_params', sa.String(length=255), nullable=True),
    sa.Column('max_random_initial_delay', sa.Integer(), nullable=True),
    sa.Column('security_negotiation', sa.Enum('no', 'mediasec', name='ps_registrations_security_negotiation_values'), nullable=True),
    sa.Column('security_mechanisms', sa.String(length=512), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ps_registrations'))
    )
    with op.batch_alter_table('ps_registrations', schema=None) as batch_op:
        batch_op.create_index('ix_ps_registrations_endpoint', ['endpoint'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.Integer(), nullable=False, autoincrement=True),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('account_code', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('max_channels', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=True),
    sa.Column('e911_number_id', sa.Integer(), nullable=True),
    sa.Column('main_number_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f('ck_clients_status')),
    sa.CheckConstraint('max_channels >= 0', name=op.f('ck_clients_max_channels')),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_clients_node_id_nodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    sa.UniqueConstraint('account_code', name=op.f('uq_clients_account_code')),
    sa.UniqueConstraint('node_id', name=op.f('uq_clients_node_id'))
    )
    op.create_table('trunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('auth_mode', sa.String(length=12), nullable=False),
    sa.Column('source_addresses', sa.Text(), nullable=False),
    sa.Column('pbx_port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=True),
    sa.Column('password', sa.String(length=80), nullable=True),
    sa.Column('e911_number_id', sa.Integer(), nullable=True),
    sa.Column('codecs', sa.String(length=200), nullable=False),
    sa.Column('max_channels', sa.Integer(), nullable=False),
    sa.Column('did_format', sa.String(length=8), nullable=False),
    sa.CheckConstraint("auth_mode = 'ip' OR (username IS NOT NULL AND password IS NOT NULL)", name=op.f('ck_trunks_credentials')),
    sa.CheckConstraint("auth_mode IN ('ip', 'credentials')", name=op.f('ck_trunks_auth_mode')),
    sa.CheckConstraint("did_format IN ('e164', 'nanp11', 'nanp10')", name=op.f('ck_trunks_did_format')),
    sa.CheckConstraint('max_channels >= 0', name=op.f('ck_trunks_max_channels')),
    sa.CheckConstraint('pbx_port BETWEEN 1 AND 65535', name=op.f('ck_trunks_pbx_port')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_trunks_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trunks')),
    sa.UniqueConstraint('client_id', 'name', name=op.f('uq_trunks_client_id_name')),
    sa.UniqueConstraint('id', 'client_id', name=op.f('uq_trunks_id_client_id')),
    sa.UniqueConstraint('username', name=op.f('uq_trunks_username'))
    )
    op.create_table('phone_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=16), nullable=False),
    sa.Column('carrier_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('trunk_id', sa.Integer(), nullable=True),
    sa.Column('e911_registered', sa.Boolean(), nullable=False),
    sa.Column('e911_address', sa.Text(), nullable=True),
    sa.Column('port_status', sa.String(length=16), nullable=False),
    sa.Column('port_target_carrier_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("e164 LIKE '+1__________'", name=op.f('ck_phone_numbers_e164')),
    sa.CheckConstraint("port_status IN ('active', 'port_in_pending', 'ported_out')", name=op.f('ck_phone_numbers_port_status')),
    sa.CheckConstraint('e911_registered = 0 OR client_id IS NOT NULL', name=op.f('ck_phone_numbers_e911_needs_client')),
    sa.CheckConstraint('trunk_id IS NULL OR client_id IS NOT NULL', name=op.f('ck_phone_numbers_trunk_needs_client')),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_phone_numbers_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_phone_numbers_client_id_clients')),
    sa.ForeignKeyConstraint(['port_target_carrier_id'], ['carriers.id'], name=op.f('fk_phone_numbers_port_target_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['trunk_id', 'client_id'], ['trunks.id', 'trunks.client_id'], name='fk_phone_numbers_trunk_own'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_numbers')),
    sa.UniqueConstraint('e164', name=op.f('uq_phone_numbers_e164')),
    sa.UniqueConstraint('id', 'client_id', name=op.f('uq_phone_numbers_id_client_id'))
    )
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_numbers_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_numbers_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_numbers_trunk_id'), ['trunk_id'], unique=False)

    # E911 and main numbers must be numbers of the same client: composite keys added once
    # phone_numbers exists (clients/trunks and phone_numbers reference each other).
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_clients_e911_number_own', 'phone_numbers', ['e911_number_id', 'id'], ['id', 'client_id'])
        batch_op.create_foreign_key('fk_clients_main_number_own', 'phone_numbers', ['main_number_id', 'id'], ['id', 'client_id'])
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_trunks_e911_number_own', 'phone_numbers', ['e911_number_id', 'client_id'], ['id', 'client_id'])

    op.create_table('trunk_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trunk_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=True),
    sa.Column('network', sa.String(length=49), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_trunk_addresses_node_id_nodes')),
    sa.ForeignKeyConstraint(['trunk_id'], ['trunks.id'], name=op.f('fk_trunk_addresses_trunk_id_trunks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trunk_addresses')),
    sa.UniqueConstraint('node_id', 'network', name=op.f('uq_trunk_addresses_node_id_network'))
    )


def downgrade() -> None:
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.drop_constraint('fk_trunks_e911_number_own', type_='foreignkey')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint('fk_clients_main_number_own', type_='foreignkey')
        batch_op.drop_constraint('fk_clients_e911_number_own', type_='foreignkey')
    op.drop_table('trunk_addresses')
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_numbers_trunk_id'))
        batch_op.drop_index(batch_op.f('ix_phone_numbers_client_id'))
        batch_op.drop_index(batch_op.f('ix_phone_numbers_carrier_id'))

    op.drop_table('phone_numbers')
    op.drop_table('trunks')
    op.drop_table('clients')
    with op.batch_alter_table('ps_registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_ps_registrations_endpoint')

    op.drop_table('ps_registrations')
    op.drop_table('ps_endpoints')
    with op.batch_alter_table('ps_endpoint_id_ips', schema=None) as batch_op:
        batch_op.drop_index('ix_ps_endpoint_id_ips_endpoint')

    op.drop_table('ps_endpoint_id_ips')
    op.drop_table('ps_domain_aliases')
    with op.batch_alter_table('ps_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_ps_contacts_qualify_frequency')

    op.drop_table('ps_contacts')
    op.drop_table('ps_auths')
    with op.batch_alter_table('ps_aors', schema=None) as batch_op:
        batch_op.drop_index('ix_ps_aors_qualify_frequency')

    op.drop_table('ps_aors')
    op.drop_table('nodes')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index('uq_extensions_context_exten_priority')

    op.drop_table('extensions')
    with op.batch_alter_table('cdr', schema=None) as batch_op:
        batch_op.drop_index('ix_cdr_start')
        batch_op.drop_index('ix_cdr_accountcode_start')

    op.drop_table('cdr')
    op.drop_table('carriers')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_entity'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
