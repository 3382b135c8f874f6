/* "Kiểm tra tệp": hash a dropped or chosen file in the browser and look the SHA-256 up
 * in the archive's hash shards (hash/h-<prefix>.js). The file never leaves the page. */
(function () {
  'use strict';
  var HB = window.HB;
  var drop = document.getElementById('drop');
  var input = document.getElementById('file');
  var out = document.getElementById('check-result');
  if (!drop || !input || !out) { return; }
  var prefixLength = parseInt(drop.getAttribute('data-hash-prefix'), 10) || 2;
  var root = document.body.getAttribute('data-root') || '';
  var KINDS = {
    xml: ['original', 'Bản gốc XML đã lưu trữ', 'Archived original XML'],
    pdf: ['rendering', 'Bản kết xuất PDF/A đã lưu trữ', 'Archived PDF/A rendering'],
    pdf_signed: ['original', 'Bản quét học bạ giấy có chữ ký số đã lưu trữ', 'Archived signed scan of a paper transcript'],
    rejected: ['rejected', 'Tệp bị từ chối khi lưu trữ (kiểm duyệt)', 'File rejected at archiving (quarantine)']
  };

  function toHex(buffer) {
    var bytes = new Uint8Array(buffer), hex = '';
    for (var i = 0; i < bytes.length; i++) { hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16); }
    return hex;
  }

  /* Web Crypto where the browser allows it (a secure context), else the pure-JS twin. */
  function digest(buffer) {
    if (window.crypto && window.crypto.subtle && window.isSecureContext !== false) {
      return window.crypto.subtle.digest('SHA-256', buffer).then(toHex, function () {
        return HB.sha256Hex(new Uint8Array(buffer));
      }).then(function (hex) { return { hex: hex, how: 'webcrypto' }; });
    }
    return Promise.resolve({ hex: HB.sha256Hex(new Uint8Array(buffer)), how: 'js' });
  }

  function readFile(file) {
    if (file.arrayBuffer) { return file.arrayBuffer(); }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(file);
    });
  }

  function line(parent, labelVi, labelEn, value, cls) {
    var p = document.createElement('p');
    p.appendChild(HB.el('span', labelVi, labelEn, 'label'));
    p.appendChild(document.createTextNode(' '));
    var v = document.createElement('span');
    if (cls) { v.className = cls; }
    if (typeof value === 'string') { v.textContent = value; } else { v.appendChild(value); }
    p.appendChild(v);
    parent.appendChild(p);
  }

  function render(file, result, rows) {
    out.textContent = '';
    var box = document.createElement('div');
    var kind = rows.length ? (KINDS[rows[0][0]] || ['unknown'])[0] : 'unknown';
    box.className = 'result-box result-' + kind;
    out.setAttribute('data-result', kind);
    out.setAttribute('data-hash-method', result.how);
    if (!rows.length) {
      box.appendChild(HB.el('h3', 'Không có trong kho lưu trữ', 'Not in this archive'));
      box.appendChild(HB.el('p',
        'Tệp này không trùng với bất kỳ bản gốc, bản kết xuất hay tệp kiểm duyệt nào đã lưu trữ. ' +
        'Có thể tệp đã bị sửa đổi, là bản khác, hoặc thuộc kho lưu trữ khác.',
        'This file matches no archived original, rendering or quarantined file. It may have been ' +
        'modified, be another version, or belong to another archive.'));
    }
    rows.forEach(function (r) {
      var k = KINDS[r[0]] || [r[0], r[0], r[0]];
      box.appendChild(HB.el('h3', k[1], k[2]));
      if (r[0] === 'rejected') {
        line(box, 'Tệp:', 'File:', r[6] + '/' + r[1], 'mono');
        var reason = String(r[3] || '').split(' / ');
        var why = HB.el('span', reason[0], reason[1] || reason[0]);
        line(box, 'Lý do:', 'Reason:', why);
        var qa = document.createElement('a');
        qa.href = root + r[7];
        box.appendChild(qa);
        qa.appendChild(HB.el('span', 'Xem danh sách kiểm duyệt', 'See the quarantine list'));
        return;
      }
      var a = document.createElement('a');
      a.href = root + r[7];
      a.textContent = r[1];
      line(box, 'Học sinh:', 'Student:', a);
      line(box, 'Lớp, năm học:', 'Class, school year:', r[2] + ' · ' + r[3]);
      line(box, 'Gói lưu trữ:', 'Archive package:', r[6], 'mono');
      line(box, 'Kết quả kiểm tra chữ ký:', 'Signature verification:', HB.badge(r[5]));
      if (r[8].indexOf('s') >= 0) {
        box.appendChild(HB.el('p', 'Lưu ý: học bạ này đã bị thu hồi và thay thế; xem trang học sinh.',
          'Note: this transcript was revoked and replaced; see the student page.', 'notice notice-bad'));
      }
    });
    var facts = document.createElement('div');
    facts.className = 'facts-small';
    line(facts, 'Tệp đã chọn:', 'Chosen file:', file.name + ' (' + file.size.toLocaleString('vi-VN') + ' byte)');
    line(facts, 'SHA-256:', 'SHA-256:', result.hex, 'mono break');
    box.appendChild(facts);
    out.appendChild(box);
  }

  function check(file) {
    if (!file) { return; }
    out.textContent = '';
    out.removeAttribute('data-result');
    out.appendChild(HB.el('p', 'Đang tính SHA-256…', 'Computing SHA-256…'));
    readFile(file).then(digest).then(function (result) {
      var prefix = result.hex.slice(0, prefixLength);
      return HB.load('hash/h-' + prefix + '.js', 'h', prefix).then(function (table) {
        render(file, result, (table && table[result.hex]) || []);
      });
    }).catch(function (err) {
      out.textContent = '';
      out.setAttribute('data-result', 'error');
      out.appendChild(HB.el('p', 'Không đọc được tệp: ' + err, 'Cannot read the file: ' + err, 'notice notice-bad'));
    });
  }

  input.addEventListener('change', function () { check(input.files && input.files[0]); });
  ['dragenter', 'dragover'].forEach(function (name) {
    drop.addEventListener(name, function (ev) { ev.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove('over'); });
  });
  // A file dropped anywhere on the page is checked (instead of the browser opening it).
  document.addEventListener('dragover', function (ev) { ev.preventDefault(); });
  document.addEventListener('drop', function (ev) {
    ev.preventDefault();
    drop.classList.remove('over');
    check(ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0]);
  });
})();
