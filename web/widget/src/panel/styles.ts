// Panel CSS, added to the shadow root with the panel. Logical properties (inline-start/end)
// so the Arabic (dir=rtl) layout mirrors by itself. Inputs are 16 px: iOS zooms on focus below.

export const PANEL_CSS = `
.od-panel{position:fixed;z-index:2147483000;bottom:88px;inset-inline-end:20px;width:370px;height:min(620px,calc(100vh - 108px));
 display:flex;flex-direction:column;background:#fff;color:#111;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic","PingFang SC",sans-serif;text-align:start}
.od-panel *{box-sizing:border-box}
.od-head{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:#2563eb;color:#fff}
.od-head>div{flex:1;min-width:0}
.od-title{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.od-status{font-size:12px;opacity:.9}
.od-status::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#fbbf24;margin-inline-end:6px}
.od-status[data-link=open]::before{background:#4ade80}
.od-status[data-link=offline]::before{background:#9ca3af}
button{font:inherit;cursor:pointer}
.od-x{all:unset;cursor:pointer;width:36px;height:36px;border-radius:8px;display:flex;align-items:center;justify-content:center;font-size:22px;line-height:1}
.od-x:hover{background:rgba(255,255,255,.15)}
.od-banner{padding:10px 16px;background:#fef3c7;color:#713f12;font-size:13px;display:flex;gap:8px;align-items:center;justify-content:space-between}
.od-body{flex:1;overflow-y:auto;padding:12px 12px 4px;background:#f8fafc;overscroll-behavior:contain}
.od-older,.od-empty{text-align:center;color:#6b7280;font-size:13px;padding:8px}
.od-m{display:flex;flex-direction:column;align-items:flex-start;margin:6px 0;max-width:100%}
.od-m.od-mine{align-items:flex-end}
.od-who{font-size:12px;color:#4b5563;margin:0 4px 2px}
.od-ai{display:inline-block;margin-inline-start:6px;padding:0 5px;border-radius:6px;font-size:10px;font-weight:700;line-height:16px;background:#ede9fe;color:#5b21b6;border:1px solid #c4b5fd}
.od-bubble{max-width:82%;padding:8px 12px;border-radius:14px;background:#fff;border:1px solid #e5e7eb;white-space:pre-wrap;overflow-wrap:anywhere}
.od-mine .od-bubble{background:#2563eb;color:#fff;border-color:#2563eb}
.od-m[data-status=failed] .od-bubble{background:#fee2e2;color:#7f1d1d;border-color:#fca5a5}
.od-m[data-status=queued] .od-bubble,.od-m[data-status=sending] .od-bubble{opacity:.75}
.od-meta{font-size:11px;color:#6b7280;margin:2px 4px 0;display:flex;gap:6px;align-items:center}
.od-tick{font-size:12px}
.od-m[data-status=failed] .od-tick{color:#b91c1c}
.od-link{all:unset;cursor:pointer;color:#1d4ed8;text-decoration:underline;font-size:12px}
.od-note{text-align:center;font-size:12px;color:#6b7280;margin:10px 24px}
.od-tg{padding:8px 12px;border-top:1px solid #e5e7eb;display:flex;flex-wrap:wrap;gap:8px;align-items:center;font-size:13px}
.od-btn{display:inline-flex;align-items:center;justify-content:center;min-height:36px;padding:6px 14px;border-radius:18px;border:1px solid #229ed9;background:#fff;color:#0b6ea8;text-decoration:none;font-size:14px}
.od-btn:hover{background:#e0f2fe}
.od-btn.od-primary{background:#2563eb;border-color:#2563eb;color:#fff}
.od-btn[disabled]{opacity:.6;cursor:default}
.od-qr{width:100%;display:flex;flex-direction:column;align-items:center;gap:4px;color:#4b5563;font-size:12px}
.od-qr svg{width:148px;height:148px}
.od-err{color:#b91c1c;font-size:13px;margin:0}
.od-prechat{padding:16px;border-top:1px solid #e5e7eb;display:flex;flex-direction:column;gap:8px}
.od-prechat h3{margin:0;font-size:15px}
.od-prechat p{margin:0;color:#4b5563;font-size:13px}
.od-prechat label{display:flex;flex-direction:column;gap:2px;font-size:13px;color:#374151}
.od-row{display:flex;gap:8px;justify-content:flex-end}
input,textarea{font-family:inherit;font-size:16px;line-height:1.35;color:#111;background:#fff;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;width:100%}
input:focus,textarea:focus{outline:2px solid #93c5fd;border-color:#2563eb}
.od-compose{display:flex;gap:8px;align-items:flex-end;padding:8px 12px 12px;border-top:1px solid #e5e7eb}
.od-compose textarea{resize:none;max-height:120px;min-height:40px}
.od-send{all:unset;cursor:pointer;flex:none;width:40px;height:40px;border-radius:50%;background:#2563eb;color:#fff;display:flex;align-items:center;justify-content:center}
.od-send svg{width:20px;height:20px;fill:currentColor}
[dir=rtl] .od-send svg{transform:scaleX(-1)}
.od-atts{display:flex;flex-direction:column;gap:4px;margin-top:4px;max-width:82%}
.od-mine .od-atts{align-items:flex-end}
.od-img img{display:block;max-width:220px;max-height:200px;border-radius:10px;border:1px solid #e5e7eb}
.od-file{display:inline-flex;align-items:center;gap:6px;padding:6px 10px;border-radius:10px;background:#fff;border:1px solid #e5e7eb;color:#1d4ed8;font-size:13px;overflow-wrap:anywhere;text-decoration:none}
div.od-file{color:#374151}
.od-file svg{width:16px;height:16px;flex:none;fill:currentColor}
.od-file small{color:#6b7280}
.od-clip{all:unset;cursor:pointer;flex:none;width:36px;height:40px;display:flex;align-items:center;justify-content:center;color:#4b5563;border-radius:8px}
.od-clip:hover{background:#f3f4f6}
.od-clip svg{width:22px;height:22px;fill:currentColor}
.od-btns{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px;max-width:82%}
.od-choice{min-height:32px;padding:4px 12px;border-radius:16px;border:1px solid #2563eb;background:#fff;color:#1d4ed8;font-size:13px}
.od-choice:hover:not(:disabled){background:#eff6ff}
.od-choice:disabled{cursor:default;opacity:.55}
.od-choice[aria-pressed=true]{background:#2563eb;color:#fff;opacity:1}
.od-stars{gap:2px}
.od-star{all:unset;cursor:pointer;font-size:26px;line-height:1;padding:3px;border-radius:6px;color:#d1d5db}
.od-star.od-on,.od-stars:not([data-omnidesk-buttons=chosen]):hover .od-star{color:#f59e0b}
.od-stars:not([data-omnidesk-buttons=chosen]) .od-star:hover~.od-star{color:#d1d5db}
.od-star:disabled{cursor:default}
.od-chips{display:flex;flex-wrap:wrap;gap:6px;padding:8px 12px 0;border-top:1px solid #e5e7eb}
.od-chip{display:inline-flex;align-items:center;gap:6px;max-width:100%;padding:2px 2px 2px 10px;border-radius:14px;background:#eff6ff;border:1px solid #bfdbfe;font-size:13px}
.od-chip-name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:150px}
.od-chip small{color:#6b7280}
.od-chip[data-omnidesk-upload=failed]{background:#fee2e2;border-color:#fca5a5}
.od-chip[data-omnidesk-upload=failed] small{color:#b91c1c}
.od-chip .od-x{width:24px;height:24px;font-size:16px;color:#374151}
.od-chips+.od-err{padding:4px 12px 0}
.od-panel[data-drop]{outline:3px dashed #2563eb;outline-offset:-6px}
.od-panel :focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.od-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
[hidden]{display:none!important}
@media (max-width:767px){.od-qr{display:none}}
@media (max-width:480px){.od-panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0}}
@media (prefers-reduced-motion:no-preference){.od-panel{animation:od-in .15s ease-out}}
@keyframes od-in{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
`;
